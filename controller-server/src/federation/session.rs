//! What a moving session is made of here: the parts this controller computes for a session it
//! holds, and what it does with the parts a peer sent (see `data` for the versioning).
//! Blocking (the store): call these off the runtime.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use serde::{Deserialize, Serialize};

use super::data::{self, OpenConsole, SessionData};
use crate::app::AppState;
use crate::store::carried::Carried;
use crate::store::users::StoreError;
use crate::store::{HostRights, User};

/// Who the session's user is, as their home controller says (the `identity` part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Their name at home.
    pub user: String,
    /// The controller where their account lives.
    pub home: String,
    /// The role the session had there.
    pub role: crate::store::Role,
    /// How they logged in there: `password`, `ldap`, `kerberos`.
    pub login: String,
}

/// The consoles `web_session` has open here.
pub fn open_consoles(state: &AppState, web_session: &str) -> Vec<OpenConsole> {
    state
        .hosts
        .all()
        .into_iter()
        .filter_map(|host| {
            let control = state.hosts.sharing(&host.id)?.watched_by(web_session)?;
            Some(OpenConsole { host: host.id.clone(), name: host.name.clone(), control })
        })
        .collect()
}

/// Where the session's account lives, as its identity part says (here, if it has none yet).
pub fn home(data: &SessionData, this_node: &str) -> String {
    data.get::<Identity>(data::IDENTITY).map_or_else(|| this_node.to_string(), |i| i.home)
}

/// The parts of `user`'s session `web_session` that this controller owns now: all of them at
/// the session's home; elsewhere, its preferences and the consoles open here.
fn owned_parts(
    state: &AppState,
    user: &User,
    web_session: &str,
    at_home: bool,
) -> Result<BTreeMap<String, Value>, StoreError> {
    let mut parts = BTreeMap::new();
    if at_home {
        let login = state.users.directory_of(&user.username)?.unwrap_or_else(|| "password".into());
        let identity = Identity { user: user.username.clone(), home: state.node.id.clone(), role: user.role, login };
        parts.insert(data::IDENTITY.to_string(), json!(identity));
        let mut rights = BTreeMap::new();
        for host in state.hosts.all() {
            rights.insert(host.id.clone(), state.rights(user, &host.id)?);
        }
        parts.insert(data::RIGHTS.to_string(), json!(rights));
    }
    parts.insert(data::PREFERENCES.to_string(), json!(state.users.preferences(user.id)?));
    parts.insert(data::consoles_at(&state.node.id), json!(open_consoles(state, web_session)));
    Ok(parts)
}

/// The session `web_session` of `user` as it stands now, its changed parts stamped with a new
/// version: the record it continues, or a new one.
pub fn snapshot(state: &AppState, user: &User, web_session: &str) -> Result<Carried, StoreError> {
    let mut carried = state.users.carried_by_session(web_session)?.unwrap_or_else(|| Carried {
        sid: crate::secret::random_token::<16>(),
        web_session: Some(web_session.to_string()),
        user_id: user.id,
        data: SessionData::default(),
        away: None,
    });
    let at_home = home(&carried.data, &state.node.id) == state.node.id;
    carried.data.update(owned_parts(state, user, web_session, at_home)?);
    Ok(carried)
}

/// Applies a session that continues here as `user`, its copy `merged` (what this controller
/// held, with what a peer just sent, `received`): away from home, the home's grant per host (as
/// last sent, so it holds whether or not it changed this time) becomes the ceiling of the
/// account's rights here; anywhere, preferences that changed become the user's.
pub fn take_in(
    state: &AppState,
    user: &User,
    merged: &SessionData,
    received: &BTreeMap<String, data::Part>,
    at_home: bool,
) -> Result<(), StoreError> {
    if !at_home {
        let ceiling: BTreeMap<String, HostRights> = merged.get(data::RIGHTS).unwrap_or_default();
        state.users.set_federated_ceiling(user.id, &ceiling)?;
    }
    if let Some(preferences) = received.get(data::PREFERENCES) {
        let preferences: BTreeMap<String, String> =
            serde_json::from_value(preferences.body.clone()).unwrap_or_default();
        state.users.replace_preferences(user.id, &preferences)?;
    }
    Ok(())
}
