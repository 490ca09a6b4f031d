//! The one account service: every change to a user, whichever door it comes through (the web
//! API or Redfish's AccountService), goes through these functions, so the rules cannot drift
//! apart: the password policy, the last-administrator rule (checked and applied in one SQL
//! statement, so two concurrent demotions cannot leave none), what ends the account's sessions,
//! that a password change needs the current password (checked and throttled like a login), and
//! that the change is in the audit trail before it takes effect (refused if it cannot be).

use crate::app::AppState;
use crate::store::users::{StoreError, MIN_PASSWORD_LEN};
use crate::store::{off_runtime, Role, User};
use crate::web::login::{Source, MAX_PASSWORD_BYTES};

/// Why an account change was refused. Messages are for the caller; never a password.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no such user")]
    NotFound,
    #[error("that user name is taken")]
    NameTaken,
    #[error("user names are 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadName,
    #[error("passwords must be at least 10 characters")]
    PasswordTooShort,
    #[error("passwords must be at most 1024 bytes")]
    PasswordTooLong,
    #[error("the new password must differ from the current one")]
    PasswordUnchanged,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("too many wrong passwords; try again in {0} s")]
    Throttled(u64),
    #[error("the last administrator cannot be demoted or deleted")]
    LastAdministrator,
    #[error("you cannot delete yourself")]
    OwnAccount,
    #[error("the audit trail cannot be written, so the change is refused")]
    AuditUnavailable,
    #[error("this account's password and role come from the directory: change them there")]
    DirectoryManaged,
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
}

/// Refuses a change the directory would undo at the user's next login (or cannot take).
async fn refuse_directory_account(state: &AppState, username: &str) -> Result<(), AccountError> {
    let (store, name) = (state.users.clone(), username.to_string());
    match off_runtime(move || store.directory_of(&name)).await? {
        Some(_) => Err(AccountError::DirectoryManaged),
        None => Ok(()),
    }
}

/// Who is making a change, and through which door.
pub struct Actor<'a> {
    pub user: &'a User,
    pub via: &'static str,
}

/// The one rule for a password a user or an administrator sets.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::PasswordTooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::PasswordTooLong);
    }
    Ok(())
}

/// User names: 1 to 64 letters, digits, '.', '_', '-' or '@' (safe in URLs and logs).
pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// Writes the record of a change about to be made; refuses the change if it cannot.
async fn audit_first(
    state: &AppState,
    actor: &Actor<'_>,
    action: &str,
    target: &str,
    mut detail: serde_json::Value,
) -> Result<(), AccountError> {
    detail["via"] = actor.via.into();
    state.audit_first(&actor.user.username, action, target, detail).await.map_err(|_| AccountError::AuditUnavailable)
}

/// A new user, who must choose a password of their own at first login.
pub async fn create(
    state: &AppState,
    actor: &Actor<'_>,
    name: String,
    password: String,
    role: Role,
) -> Result<User, AccountError> {
    if !valid_username(&name) {
        return Err(AccountError::BadName);
    }
    check_password(&password)?;
    let store = state.users.clone();
    let taken = {
        let name = name.clone();
        off_runtime(move || Ok(store.login_target(&name)?.0.is_some())).await?
    };
    if taken {
        return Err(AccountError::NameTaken);
    }
    audit_first(state, actor, "user.create", &name, serde_json::json!({ "role": role })).await?;
    let store = state.users.clone();
    let created = off_runtime(move || match store.create(&name, &password, role, true) {
        Ok(id) => store.by_id(id),
        // Taken between the check and now.
        Err(StoreError::Db(_)) => Ok(None),
        Err(other) => Err(other),
    })
    .await?;
    created.ok_or(AccountError::NameTaken)
}

/// Sets a user's role. The last administrator keeps theirs, even against concurrent demotions.
pub async fn set_role(state: &AppState, actor: &Actor<'_>, user_id: i64, role: Role) -> Result<User, AccountError> {
    let user = lookup(state, user_id).await?;
    refuse_directory_account(state, &user.username).await?;
    audit_first(state, actor, "user.role", &user.username, serde_json::json!({ "from": user.role, "to": role }))
        .await?;
    let store = state.users.clone();
    if !off_runtime(move || store.set_role_keeping_an_administrator(user_id, role)).await? {
        return Err(AccountError::LastAdministrator);
    }
    lookup(state, user_id).await
}

/// An administrator's reset of someone else's password: no current password needed; the user
/// must choose a new one at next login, and every session of theirs ends.
pub async fn reset_password(
    state: &AppState,
    actor: &Actor<'_>,
    user_id: i64,
    password: String,
) -> Result<User, AccountError> {
    check_password(&password)?;
    let user = lookup(state, user_id).await?;
    refuse_directory_account(state, &user.username).await?;
    audit_first(state, actor, "user.password-reset", &user.username, serde_json::json!({})).await?;
    let store = state.users.clone();
    off_runtime(move || store.reset_password(user_id, &password)).await?;
    lookup(state, user_id).await
}

/// A user's change of their own password: the current one is checked (throttled like a login,
/// from the caller's address), every other session of theirs ends, and `keep_session` (the one
/// making the change, if any) goes on.
pub async fn change_own_password(
    state: &AppState,
    actor: &Actor<'_>,
    source: &Source,
    current: String,
    new: String,
    keep_session: Option<String>,
) -> Result<User, AccountError> {
    check_password(&new)?;
    refuse_directory_account(state, &actor.user.username).await?;
    if new == current {
        return Err(AccountError::PasswordUnchanged);
    }
    use crate::web::login::{check, LoginRefused, Purpose};
    match check(state, actor.user.username.clone(), current, source, Purpose::CurrentPassword).await {
        Ok(Ok(user)) if user.id == actor.user.id => {}
        Ok(Ok(_)) | Ok(Err(LoginRefused::Wrong | LoginRefused::NotPermitted | LoginRefused::DirectoryUnavailable)) => {
            return Err(AccountError::WrongCurrentPassword)
        }
        Ok(Err(LoginRefused::Locked { seconds } | LoginRefused::Busy { seconds })) => {
            return Err(AccountError::Throttled(seconds))
        }
        Err(_) => return Err(AccountError::Store(StoreError::Task)),
    }
    set_own_password(state, actor, new, keep_session).await
}

/// Sets a user's own password once they have proven the current one in this very request (a
/// Redfish Basic request carries it), or when the account must replace its first-run password.
pub async fn set_own_password(
    state: &AppState,
    actor: &Actor<'_>,
    new: String,
    keep_session: Option<String>,
) -> Result<User, AccountError> {
    check_password(&new)?;
    refuse_directory_account(state, &actor.user.username).await?;
    let user_id = actor.user.id;
    audit_first(state, actor, "user.password", &actor.user.username, serde_json::json!({})).await?;
    let store = state.users.clone();
    off_runtime(move || {
        store.set_password(user_id, &new)?;
        // A new password ends every other session of the account.
        if let Some(session) = keep_session {
            store.carry_session_over_password_change(&session)?;
        }
        Ok(())
    })
    .await?;
    tracing::info!(user = %actor.user.username, "password changed");
    lookup(state, user_id).await
}

/// Deletes a user (and with them their sessions, tokens and access entries). Nobody deletes
/// themselves, and the last administrator stays.
pub async fn delete(state: &AppState, actor: &Actor<'_>, user_id: i64) -> Result<User, AccountError> {
    let user = lookup(state, user_id).await?;
    if user.id == actor.user.id {
        return Err(AccountError::OwnAccount);
    }
    audit_first(state, actor, "user.delete", &user.username, serde_json::json!({})).await?;
    let store = state.users.clone();
    if !off_runtime(move || store.delete_keeping_an_administrator(user_id)).await? {
        return Err(AccountError::LastAdministrator);
    }
    Ok(user)
}

async fn lookup(state: &AppState, user_id: i64) -> Result<User, AccountError> {
    let store = state.users.clone();
    off_runtime(move || store.by_id(user_id)).await?.ok_or(AccountError::NotFound)
}
