-- The reference: GET /healthz at the same pace as the spend run.
function delay()
  return tonumber(os.getenv("DELAY_MS") or "10")
end
