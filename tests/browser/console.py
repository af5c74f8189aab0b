"""The web console in a real browser (issue 29's "Done when").

Run by tests/it/console_browser.rs against a test server; reads BASE_URL, ADMIN_EMAIL,
ADMIN_PASSWORD, ANALYST_EMAIL, ANALYST_PASSWORD, MEMBER_PHONE, MEMBER_NAME, MEMBERS_TOTAL
and BUYERS (members with an order) from the environment. Headless Chromium from Debian's package (/usr/bin/chromium), driven by
Playwright without its own browser download. Exits non-zero naming the step that failed.
"""
import os
import re
import sys

from playwright.sync_api import expect, sync_playwright

BASE = os.environ["BASE_URL"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
expect.set_options(timeout=15_000)


def step(name):
    print(f"step: {name}", flush=True)


def sign_in(page, email, password, then="/"):
    page.goto(BASE + then)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(BASE + then)


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 768})
        page = ctx.new_page()

        step("sign in")
        sign_in(page, os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"], "/members")

        step("find a member by phone")
        page.fill("#q", os.environ["MEMBER_PHONE"])
        page.click("form.search button")
        page.click(f"text={os.environ['MEMBER_NAME']}")
        expect(page.locator("h1")).to_contain_text(os.environ["MEMBER_NAME"])

        step("adjust points with a reason and see the ledger line")
        page.fill("#points", "120")
        page.fill("#reason", "Goodwill for a late delivery")
        page.click("#adjust-form button[type=submit]")
        expect(page.locator("#ledger")).to_contain_text("Goodwill for a late delivery")
        expect(page.locator("#ledger")).to_contain_text("+120")

        step("build a segment and see its count change as a condition is added")
        page.goto(BASE + "/segments/new")
        count = page.locator("#segment-count")
        # Every member, then (with "orders at least 1") the buyers only.
        expect(count).to_have_text(os.environ["MEMBERS_TOTAL"])
        page.click("#add-condition")
        page.select_option("#field-1", "orders")
        page.select_option("#op-1", "gte")
        page.fill("#value-1", "1")
        expect(count).to_have_text(os.environ["BUYERS"])
        page.fill("#segment-name", "Buyers")
        page.click("#save-segment")
        expect(page).to_have_url(re.compile(r"/segments"))
        expect(page.locator("#segment-list")).to_contain_text("Buyers")
        saved = page.locator("#segment-list tr", has_text="Buyers").locator("td").nth(1)
        expect(saved).to_have_text(os.environ["BUYERS"])

        step("create and schedule a broadcast")
        page.goto(BASE + "/campaigns/new")
        page.fill("#c-name", "Member day")
        page.select_option("#c-segment", label="Buyers")
        page.select_option("#c-channel", "email")
        page.fill("#c-subject", "Happy member day, {{ member.name }}")
        page.fill("#c-body", "You have {{ points.balance }} points. {{ unsubscribe_url }}")
        page.fill("#c-at", "2030-12-08T10:00")
        page.click("#schedule-campaign")
        expect(page).to_have_url(re.compile(r"/campaigns\?flash="))
        row = page.locator("#campaign-list tr", has_text="Member day")
        expect(row).to_contain_text("Scheduled")
        expect(row).to_contain_text("Dec 8, 2030 10:00")

        step("switch the language and see Chinese")
        page.select_option("#lang-switch", "zh-CN")
        page.click("#lang-apply")
        expect(page.locator("nav")).to_contain_text("会员")
        expect(page.locator("h1")).to_have_text("营销活动")
        expect(page.locator("#campaign-list")).to_contain_text("2030年12月8日")
        page.goto(BASE + "/members?q=" + os.environ["MEMBER_PHONE"])
        expect(page.locator("h1")).to_have_text("会员")
        # The choice is the account's: a new sign-in keeps it.
        ctx.close()

        step("an analyst has no adjust control and the server refuses the POST")
        ctx = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
        page = ctx.new_page()
        sign_in(page, os.environ["ANALYST_EMAIL"], os.environ["ANALYST_PASSWORD"], "/members")
        page.fill("#q", os.environ["MEMBER_PHONE"])
        page.click("form.search button")
        page.click(f"text={os.environ['MEMBER_NAME']}")
        expect(page.locator("#ledger")).to_be_visible()
        expect(page.locator("#adjust-form")).to_have_count(0)
        expect(page.locator("#points")).to_have_count(0)
        csrf = page.get_attribute("meta[name=csrf]", "content")
        member_path = page.url.split(BASE, 1)[1].split("?", 1)[0]
        resp = ctx.request.post(
            BASE + member_path + "/points",
            form={"csrf": csrf, "points": "999", "reason": "sneaky"},
            max_redirects=0,
        )
        if resp.status != 403:
            raise SystemExit(f"analyst POST answered {resp.status}, wanted 403")
        page.reload()
        expect(page.locator("#ledger")).not_to_contain_text("sneaky")
        ctx.close()
        browser.close()
    print("console browser test: ok", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report the failing step, then fail
        print(f"FAILED: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
