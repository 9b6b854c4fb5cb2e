//! What each role may do in each kind of chat (the contract's
//! `ChatPermissions` decision).

use lockstep_contract::types;

use crate::store::{ChatType, Role};

/// The permissions of `role` in a chat of `chat_type`.
pub fn permissions(role: Role, chat_type: ChatType) -> types::ChatPermissions {
    let admin = matches!(role, Role::Owner | Role::Admin);
    let moderator = admin || role == Role::Moderator;
    types::ChatPermissions {
        // In a channel only owner and admins post; elsewhere everyone does.
        can_send_messages: chat_type != ChatType::Channel || admin,
        can_add_members: moderator,
        can_remove_members: moderator,
        can_edit_settings: admin,
    }
}

pub fn role_to_wire(role: Role) -> types::ChatRole {
    match role {
        Role::Owner => types::ChatRole::Owner,
        Role::Admin => types::ChatRole::Admin,
        Role::Moderator => types::ChatRole::Moderator,
        Role::Member => types::ChatRole::Member,
    }
}

/// The role a `role` of `POST /api/chats/{chatid}/participants` gives.
pub fn role_from_assignable(role: types::AssignableRole) -> Role {
    match role {
        types::AssignableRole::Admin => Role::Admin,
        types::AssignableRole::Moderator => Role::Moderator,
        types::AssignableRole::Member => Role::Member,
    }
}

pub fn chat_type_from_wire(chat_type: types::ChatType) -> ChatType {
    match chat_type {
        types::ChatType::Direct => ChatType::Direct,
        types::ChatType::Group => ChatType::Group,
        types::ChatType::Channel => ChatType::Channel,
    }
}

pub fn chat_type_to_wire(chat_type: ChatType) -> types::ChatType {
    match chat_type {
        ChatType::Direct => types::ChatType::Direct,
        ChatType::Group => types::ChatType::Group,
        ChatType::Channel => types::ChatType::Channel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_send_except_in_channels() {
        assert!(permissions(Role::Member, ChatType::Group).can_send_messages);
        assert!(!permissions(Role::Member, ChatType::Channel).can_send_messages);
        assert!(permissions(Role::Admin, ChatType::Channel).can_send_messages);
        assert!(!permissions(Role::Moderator, ChatType::Channel).can_send_messages);
    }

    #[test]
    fn only_moderators_and_up_manage_members_and_only_admins_edit() {
        let member = permissions(Role::Member, ChatType::Group);
        assert!(!member.can_add_members && !member.can_remove_members && !member.can_edit_settings);
        let moderator = permissions(Role::Moderator, ChatType::Group);
        assert!(
            moderator.can_add_members
                && moderator.can_remove_members
                && !moderator.can_edit_settings
        );
        let owner = permissions(Role::Owner, ChatType::Direct);
        assert!(owner.can_add_members && owner.can_edit_settings);
    }
}
