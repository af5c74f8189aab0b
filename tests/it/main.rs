//! The integration tests: one binary, every test run against SQLite and PostgreSQL.
//!
//! PostgreSQL comes from `MEMBEROPS_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1/test`); each test gets a fresh database, dropped after.
//! If PostgreSQL cannot be reached the PostgreSQL variant prints that it skipped, unless
//! `CI=true`, where it fails.

mod helpers;
mod receiver;

mod analytics;
mod analytics_funnel;
mod analytics_portrait;
mod api_basics;
mod api_style;
mod audit;
mod campaigns;
mod campaigns_email;
mod campaigns_tasks;
mod checkout_member;
mod clv;
mod console;
mod console_browser;
mod coupons;
mod coupons_issue;
mod events;
mod hardening;
mod import;
mod intelligence;
mod jobs;
mod journeys;
mod journeys_templates;
mod loyalty;
mod loyalty_care;
mod loyalty_late;
mod loyalty_rules;
mod loyalty_trial;
mod members;
mod operator_lists;
mod ops;
mod ops_disk_full;
mod ops_fault;
mod ops_fault_dispatch;
mod phones;
mod planner;
mod privacy;
mod schema;
mod scopes;
mod segment_fields;
mod segments;
mod small_things;
mod stores;
mod system_events;
mod tracking;
mod webhooks;
