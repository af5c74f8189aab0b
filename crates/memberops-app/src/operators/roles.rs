//! Console roles and what each may do. Every console action names the [`Permission`] it
//! needs and the server checks it; the pages only hide what the role cannot use.

/// An operator account's role (docs/console.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, operator accounts included.
    Admin,
    /// 运营: programs, coupons, segments, campaigns, tags.
    Operator,
    /// 客服: member look-up, points adjustments with a reason, tags, tasks.
    Service,
    /// Read-only: dashboards, reports, members with masked contacts.
    Analyst,
    /// 店员: their own call tasks; phones masked until the call.
    Staff,
}

/// What a console action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewDashboard,
    ViewMembers,
    /// Phones and emails in full (others see `138****5678`).
    SeeContacts,
    AdjustPoints,
    TagMembers,
    ViewSegments,
    EditSegments,
    ViewCampaigns,
    EditCampaigns,
    ManageOperators,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Operator,
        Role::Service,
        Role::Analyst,
        Role::Staff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Service => "service",
            Role::Analyst => "analyst",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// The one table of who may do what.
    pub fn can(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Operator => matches!(
                p,
                ViewDashboard
                    | ViewMembers
                    | SeeContacts
                    | TagMembers
                    | ViewSegments
                    | EditSegments
                    | ViewCampaigns
                    | EditCampaigns
            ),
            Role::Service => matches!(
                p,
                ViewDashboard | ViewMembers | SeeContacts | AdjustPoints | TagMembers
            ),
            Role::Analyst => matches!(
                p,
                ViewDashboard | ViewMembers | ViewSegments | ViewCampaigns
            ),
            Role::Staff => matches!(p, ViewDashboard | ViewMembers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_by_name_and_refuse_others() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_admin_and_service_adjust_points_and_only_admin_manages_accounts() {
        let adjusters: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can(Permission::AdjustPoints))
            .collect();
        assert_eq!(adjusters, [Role::Admin, Role::Service]);
        let managers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can(Permission::ManageOperators))
            .collect();
        assert_eq!(managers, [Role::Admin]);
        assert!(!Role::Analyst.can(Permission::SeeContacts));
        assert!(!Role::Staff.can(Permission::SeeContacts));
        assert!(!Role::Analyst.can(Permission::EditSegments));
        assert!(Role::Analyst.can(Permission::ViewSegments));
    }
}
