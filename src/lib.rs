//! mentiondesk: public complaints about a brand become claimable cards in the team's chat.
