//! The console's texts: `(key, English, 简体中文)`. Keys are grouped by page; codes shown
//! to people (stages, roles, statuses) are keys too (`stage.new`).

use std::collections::HashMap;
use std::sync::LazyLock;

use super::Locale;

pub(super) const MESSAGES: &[(&str, &str, &str)] = &[
    // Navigation and the frame of every page.
    ("nav.main", "Main", "主导航"),
    ("nav.dashboard", "Dashboard", "概览"),
    ("nav.members", "Members", "会员"),
    ("nav.segments", "Segments", "人群"),
    ("nav.campaigns", "Campaigns", "营销活动"),
    ("nav.language", "Language", "语言"),
    ("nav.switch", "Switch", "切换"),
    ("nav.sign_out", "Sign out", "退出登录"),
    ("role.admin", "Administrator", "管理员"),
    ("role.operator", "Operator", "运营"),
    ("role.service", "Customer service", "客服"),
    ("role.analyst", "Analyst", "分析师"),
    ("role.staff", "Store staff", "店员"),
    ("list.next", "Next page", "下一页"),
    ("list.empty", "Nothing yet", "暂无记录"),
    // Sign-in.
    ("login.title", "Sign in", "登录"),
    ("login.email", "Email", "邮箱"),
    ("login.password", "Password", "密码"),
    ("login.submit", "Sign in", "登录"),
    (
        "login.refused",
        "Wrong email or password.",
        "邮箱或密码错误。",
    ),
    (
        "login.locked",
        "Too many failed attempts: this account is locked for 15 minutes.",
        "失败次数过多，账号已锁定 15 分钟。",
    ),
    // Errors.
    (
        "error.forbidden",
        "Your role may not do this",
        "您的角色无权执行此操作",
    ),
    (
        "error.csrf_failed",
        "The form expired; reload the page and try again",
        "表单已失效，请刷新页面后重试",
    ),
    ("error.not_found", "Not found", "未找到"),
    (
        "error.validation_failed",
        "Some input is not valid",
        "输入有误",
    ),
    ("error.other", "Something went wrong", "出错了"),
    ("error.home", "Back to the dashboard", "返回概览"),
    // Results of actions.
    ("flash.points_adjusted", "Points adjusted.", "积分已调整。"),
    ("flash.tag_added", "Tag added.", "标签已添加。"),
    ("flash.segment_saved", "Segment saved.", "人群已保存。"),
    (
        "flash.campaign_scheduled",
        "Broadcast scheduled.",
        "群发已排期。",
    ),
    (
        "problem.reason_required",
        "A reason is required to adjust points.",
        "调整积分必须填写原因。",
    ),
    (
        "problem.points_invalid",
        "Points must be a whole number other than 0.",
        "积分须为非零整数。",
    ),
    (
        "problem.insufficient_points",
        "The member does not have that many points.",
        "会员积分不足。",
    ),
    (
        "problem.tag_invalid",
        "That tag name is not allowed.",
        "标签名称不合法。",
    ),
    // Dashboard.
    ("dash.window", "Last 30 days", "近 30 天"),
    ("dash.previous", "Previous 30 days", "前 30 天"),
    ("dash.members_total", "Members", "会员总数"),
    ("dash.new_members", "New members", "新增会员"),
    ("dash.active_members", "Active members", "活跃会员"),
    ("dash.orders", "Orders", "订单数"),
    ("dash.revenue", "Revenue", "销售额"),
    ("dash.lifecycle", "Lifecycle stages", "生命周期分布"),
    ("dash.new_by_day", "New members by day", "每日新增会员"),
    // Members.
    (
        "members.search",
        "Phone, name or external id",
        "手机号、姓名或外部编号",
    ),
    (
        "members.search_hint",
        "e.g. 13800138000",
        "例如 13800138000",
    ),
    ("members.find", "Search", "搜索"),
    ("members.none", "No member matches.", "没有匹配的会员。"),
    ("members.all_stages", "All stages", "全部生命周期"),
    ("member.name", "Name", "姓名"),
    ("member.no_name", "(no name)", "（未填写姓名）"),
    ("member.external_id", "External id", "外部编号"),
    ("member.phone", "Phone", "手机号"),
    ("member.email", "Email", "邮箱"),
    ("member.gender", "Gender", "性别"),
    ("member.birthday", "Birthday", "生日"),
    ("member.region", "Region", "地区"),
    ("member.channel", "Channel", "来源渠道"),
    ("member.registered", "Registered", "注册日期"),
    ("member.orders", "Orders", "订单数"),
    ("member.spend", "Spend", "消费金额"),
    ("member.profile", "Profile", "会员档案"),
    ("member.tier", "Tier", "会员等级"),
    ("member.next_tier", "Next tier", "下一等级"),
    ("member.growth_needed", "growth needed", "还需成长值"),
    ("member.growth", "Growth", "成长值"),
    ("member.stored_value", "Stored value", "储值余额"),
    ("member.stage_rfm", "Stage and RFM", "生命周期与 RFM"),
    ("member.stage", "Stage", "生命周期"),
    ("member.value_class", "Value class", "价值分层"),
    ("member.tags", "Tags", "标签"),
    ("member.add_tag", "New tag", "新标签"),
    ("member.add_tag_submit", "Add tag", "添加标签"),
    ("member.points", "Points", "积分"),
    ("member.points_available", "available", "可用"),
    (
        "member.points_expiring",
        "expiring in 30 days",
        "30 天内过期",
    ),
    (
        "member.adjust_points",
        "Points to add (negative to deduct)",
        "调整积分（负数为扣减）",
    ),
    ("member.reason", "Reason", "原因"),
    ("member.adjust_submit", "Adjust points", "调整积分"),
    ("member.coupons", "Coupons", "优惠券"),
    ("member.tasks", "Call tasks", "回访任务"),
    ("member.events", "Recent events", "最近行为"),
    ("ledger.at", "When", "时间"),
    ("ledger.kind", "Kind", "类型"),
    ("ledger.points", "Points", "积分"),
    ("ledger.reason", "Reason", "原因"),
    ("ledger.kind.earn", "Earned", "获得"),
    ("ledger.kind.spend", "Spent", "使用"),
    ("ledger.kind.expire", "Expired", "过期"),
    ("ledger.kind.reverse", "Reversed", "冲回"),
    ("ledger.kind.adjust", "Adjusted", "人工调整"),
    ("ledger.kind.debt", "Debt", "欠分"),
    ("ledger.kind.settle_debt", "Debt settled", "欠分抵扣"),
    ("coupon.template", "Template", "券模板"),
    ("coupon.status", "Status", "状态"),
    ("coupon.valid_to", "Valid to", "有效期至"),
    ("coupon.status.issued", "Issued", "已发放"),
    ("coupon.status.locked", "Locked", "已锁定"),
    ("coupon.status.redeemed", "Redeemed", "已核销"),
    ("coupon.status.expired", "Expired", "已过期"),
    ("coupon.status.void", "Void", "已作废"),
    ("task.title", "Task", "任务"),
    ("task.due", "Due", "截止日期"),
    ("task.status", "Status", "状态"),
    ("event.at", "When", "时间"),
    ("event.type", "Event", "行为"),
    ("gender.male", "Male", "男"),
    ("gender.female", "Female", "女"),
    ("gender.other", "Other", "其他"),
    ("gender.unknown", "Unknown", "未知"),
    ("stage.new", "New", "引入期"),
    ("stage.growing", "Growing", "成长期"),
    ("stage.mature", "Mature", "成熟期"),
    ("stage.silent", "Silent", "沉默期"),
    ("stage.churned", "Churned", "流失期"),
    ("rfm.important_value", "Important value", "重要价值"),
    (
        "rfm.important_development",
        "Important development",
        "重要发展",
    ),
    ("rfm.important_retention", "Important retention", "重要保持"),
    ("rfm.important_win_back", "Important win-back", "重要挽留"),
    ("rfm.general_value", "General value", "一般价值"),
    ("rfm.general_development", "General development", "一般发展"),
    ("rfm.general_retention", "General retention", "一般保持"),
    ("rfm.general_win_back", "General win-back", "一般挽留"),
    ("value_class.vip", "VIP", "VIP 客户"),
    ("value_class.large", "Large", "大客户"),
    ("value_class.medium", "Medium", "中客户"),
    ("value_class.small", "Small", "小客户"),
    ("value_class.prospect_a", "Prospect A", "潜客 A"),
    ("value_class.prospect_b", "Prospect B", "潜客 B"),
    ("value_class.prospect_c", "Prospect C", "潜客 C"),
    ("value_class.prospect_d", "Prospect D", "潜客 D"),
    // Segments.
    ("segments.new", "New segment", "新建人群"),
    ("segments.name", "Name", "名称"),
    ("segments.version", "Version", "版本"),
    ("segments.updated", "Updated", "更新日期"),
    ("segments.match", "Members matching", "匹配方式"),
    ("segments.match_all", "all conditions", "满足全部条件"),
    ("segments.match_any", "any condition", "满足任一条件"),
    ("segments.conditions", "Conditions", "条件"),
    ("segments.add_condition", "Add condition", "添加条件"),
    ("segments.count", "Members", "人数"),
    ("segments.save", "Save segment", "保存人群"),
    ("segments.remove", "Remove", "删除"),
    ("segments.field", "Field", "字段"),
    ("segments.op", "Operator", "运算"),
    ("segments.value", "Value", "值"),
    ("op.eq", "is", "等于"),
    ("op.ne", "is not", "不等于"),
    ("op.gt", "more than", "大于"),
    ("op.gte", "at least", "大于等于"),
    ("op.lt", "less than", "小于"),
    ("op.lte", "at most", "小于等于"),
    ("op.contains", "contains", "包含"),
    ("op.has_tag", "has tag", "拥有标签"),
    (
        "op.within_last_days",
        "within the last N days",
        "最近 N 天内",
    ),
    (
        "op.within_next_days",
        "within the next N days",
        "未来 N 天内",
    ),
    ("field.gender", "Gender", "性别"),
    ("field.age", "Age", "年龄"),
    ("field.birthday", "Birthday", "生日"),
    ("field.region", "Region", "地区"),
    ("field.channel", "Channel", "来源渠道"),
    ("field.tier", "Tier", "会员等级"),
    ("field.registered_at", "Registered", "注册时间"),
    ("field.orders", "Orders", "订单数"),
    ("field.spend", "Spend (minor units)", "消费金额（分）"),
    ("field.aov", "Average order (minor units)", "客单价（分）"),
    ("field.last_order_at", "Last order", "最近下单"),
    ("field.points_balance", "Points balance", "积分余额"),
    ("field.stage", "Lifecycle stage", "生命周期"),
    ("field.r_score", "R score", "R 分"),
    ("field.f_score", "F score", "F 分"),
    ("field.m_score", "M score", "M 分"),
    ("field.rfm_class", "RFM class", "RFM 分类"),
    ("field.value_class", "Value class", "价值分层"),
    ("field.tags", "Tags", "标签"),
    ("field.first_order_at", "First order", "首次下单"),
    ("field.income_band", "Income band", "收入区间"),
    (
        "field.stored_value_minor",
        "Stored value (minor units)",
        "储值余额（分）",
    ),
    ("field.store", "Home store", "所属门店"),
    ("field.staff", "Owning staff", "专属导购"),
    ("field.p_alive", "P(alive)", "存活概率"),
    (
        "field.expected_orders_90d",
        "Expected orders, 90 days",
        "预计 90 天订单数",
    ),
    ("field.clv_12m", "12-month value", "12 个月预测价值"),
    // Campaigns.
    ("campaigns.new", "New broadcast", "新建群发"),
    ("campaigns.name", "Name", "名称"),
    ("campaigns.audience", "Audience (segment)", "目标人群"),
    (
        "campaigns.no_segments",
        "Save a segment first.",
        "请先保存一个人群。",
    ),
    ("campaigns.channel", "Channel", "渠道"),
    ("campaigns.subject", "Subject (email)", "主题（邮件）"),
    ("campaigns.body", "Message", "内容"),
    ("campaigns.variables", "Variables", "变量"),
    ("campaigns.send_at", "Send at", "发送时间"),
    ("campaigns.zone", "Time zone", "时区"),
    (
        "campaigns.zone_member",
        "each member's zone",
        "会员所在时区",
    ),
    ("campaigns.zone_brand", "the brand's zone", "品牌时区"),
    (
        "campaigns.schedule_submit",
        "Create and schedule",
        "创建并排期",
    ),
    ("campaigns.status", "Status", "状态"),
    ("campaigns.schedule", "Scheduled for", "计划发送"),
    ("campaigns.at_launch", "at once", "立即"),
    ("campaigns.created", "Created", "创建日期"),
    ("campaign.status.draft", "Draft", "草稿"),
    (
        "campaign.status.running",
        "Scheduled / sending",
        "已排期 / 发送中",
    ),
    ("campaign.status.paused", "Paused", "已暂停"),
    ("campaign.status.cancelled", "Cancelled", "已取消"),
    ("campaign.status.completed", "Completed", "已完成"),
    ("channel.email", "Email", "邮件"),
    ("channel.sms", "SMS", "短信"),
    ("channel.push", "Push", "推送"),
    ("channel.wechat", "WeChat", "微信"),
    ("channel.inapp", "In-app inbox", "站内信"),
];

static INDEX: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> = LazyLock::new(|| {
    MESSAGES
        .iter()
        .map(|(k, en, zh)| (*k, (*en, *zh)))
        .collect()
});

pub(super) fn get(key: &str, l: Locale) -> Option<&'static str> {
    INDEX.get(key).map(|(en, zh)| match l {
        Locale::En => *en,
        Locale::ZhCn => *zh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_text_is_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in MESSAGES {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !zh.is_empty(), "{k} lacks a text");
        }
    }

    /// Every `t('key')` the templates name is in the catalog.
    #[test]
    fn templates_name_only_known_keys() {
        let sources = [
            include_str!("../../templates/base.html"),
            include_str!("../../templates/login.html"),
            include_str!("../../templates/error.html"),
            include_str!("../../templates/dashboard.html"),
            include_str!("../../templates/members.html"),
            include_str!("../../templates/member.html"),
            include_str!("../../templates/segments.html"),
            include_str!("../../templates/segment_new.html"),
            include_str!("../../templates/campaigns.html"),
            include_str!("../../templates/campaign_new.html"),
        ];
        for src in sources {
            for part in src.split("t('").skip(1) {
                let key = part.split('\'').next().unwrap_or("");
                if key.ends_with('.') {
                    continue; // a prefix completed at render time (`'stage.' ~ code`)
                }
                assert!(INDEX.contains_key(key), "no text for `{key}`");
            }
        }
    }
}
