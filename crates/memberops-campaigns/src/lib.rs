//! Campaigns and journeys for MemberOps: who receives what, when, on which channel, and
//! whether a delivery rule (consent, quiet hours, frequency caps) holds a message back.
//!
//! Pure domain code: plain data in, decisions out. Sending happens in `memberops-app`
//! through the outbox; nothing here touches a database or the network.
