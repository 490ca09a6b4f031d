//! Per-host rights: who may view a host's console, who may control it (type, point, paste,
//! Ctrl-Alt-Del), who may power it, who may attach virtual media (and set a one-time boot
//! override), and who may run directives (commands) on an agent's machine. A user's role gives defaults; an entry for a host
//! replaces them there. Administrators always have every right.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::users::{StoreError, UserStore};
use super::{Role, User};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostRights {
    pub view: bool,
    pub control: bool,
    pub power: bool,
    /// Directives: commands run on the machine by its agent. Absent in older API bodies.
    #[serde(default)]
    pub run: bool,
    /// Virtual media and boot overrides. Absent in older API bodies.
    #[serde(default)]
    pub media: bool,
}

impl HostRights {
    pub const ALL: Self = Self { view: true, control: true, power: true, run: true, media: true };
    pub const VIEW: Self = Self { view: true, control: false, power: false, run: false, media: false };
    /// An operator's default on a managed machine: everything but directives, which run
    /// commands on it as its agent's user and so are granted host by host. Media are in: an
    /// operator installs and rescues servers, as iLO's and OpenBMC's operators do.
    pub const OPERATE: Self = Self { view: true, control: true, power: true, run: false, media: true };

    /// What a role may do on a host of `class` without an entry of its own.
    pub fn default_for(role: Role, class: HostClass) -> Self {
        match (role, class) {
            (Role::Administrator, _) => Self::ALL,
            (Role::Operator, HostClass::Managed) => Self::OPERATE,
            // A shell on the controller's own machine reaches its database and keys: only an
            // administrator's by default, and an explicit entry for anyone else.
            (Role::Operator, HostClass::ControllerShell) | (Role::ReadOnly, _) => Self::VIEW,
        }
    }

    /// Only what both allow (and nothing on a host one may not see).
    pub fn within(self, ceiling: Self) -> Self {
        if !(self.view && ceiling.view) {
            return Self::default();
        }
        Self {
            view: true,
            control: self.control && ceiling.control,
            power: self.power && ceiling.power,
            run: self.run && ceiling.run,
            media: self.media && ceiling.media,
        }
    }

    /// Control, power and run imply view: a right to act on a host one cannot see makes no
    /// sense.
    pub fn normalized(self) -> Self {
        Self { view: self.view || self.control || self.power || self.run || self.media, ..self }
    }
}

/// What kind of host, for the rights a role has there by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostClass {
    /// A managed machine (a VM, a desktop, a server).
    Managed,
    /// A shell on the controller's own machine (the `local` backend).
    ControllerShell,
}

/// One explicit entry of a host's access list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEntry {
    pub user_id: i64,
    pub username: String,
    pub rights: HostRights,
}

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS host_access (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    host_id TEXT NOT NULL,
    can_view INTEGER NOT NULL,
    can_control INTEGER NOT NULL,
    can_power INTEGER NOT NULL,
    can_run INTEGER NOT NULL DEFAULT 0,
    can_media INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, host_id)
);";

/// Databases made before directives or virtual media lack those rights' columns.
pub(super) fn migrate(db: &rusqlite::Connection) -> Result<(), StoreError> {
    for column in ["can_run", "can_media"] {
        let present: bool =
            db.query_row("SELECT COUNT(*) > 0 FROM pragma_table_info('host_access') WHERE name = ?1", [column], |r| {
                r.get(0)
            })?;
        if !present {
            db.execute(&format!("ALTER TABLE host_access ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"), [])?;
        }
    }
    Ok(())
}

/// The rights columns, in `HostRights` order, as the queries name them.
pub(super) const RIGHTS_COLUMNS: &str = "can_view, can_control, can_power, can_run, can_media";

/// `HostRights` from five columns starting at `at`.
pub(super) fn rights_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<HostRights> {
    Ok(HostRights {
        view: r.get(at)?,
        control: r.get(at + 1)?,
        power: r.get(at + 2)?,
        run: r.get(at + 3)?,
        media: r.get(at + 4)?,
    })
}

impl UserStore {
    /// What `user` may do on `host_id`, a host of `class`: within, for a peer's user, what
    /// their home controller grants them there.
    pub fn rights(&self, user: &User, host_id: &str, class: HostClass) -> Result<HostRights, StoreError> {
        let here = self.rights_here(user, host_id, class)?;
        Ok(match self.federated_ceiling(user.id, host_id)? {
            Some(ceiling) => here.within(ceiling),
            None => here,
        })
    }

    fn rights_here(&self, user: &User, host_id: &str, class: HostClass) -> Result<HostRights, StoreError> {
        if user.role == Role::Administrator {
            return Ok(HostRights::ALL);
        }
        let entry = self
            .db()?
            .query_row(
                &format!("SELECT {RIGHTS_COLUMNS} FROM host_access WHERE user_id = ?1 AND host_id = ?2"),
                params![user.id, host_id],
                |r| rights_at(r, 0),
            )
            .optional()?;
        Ok(entry.unwrap_or_else(|| HostRights::default_for(user.role, class)))
    }

    /// Sets (or with `None` removes) `user_id`'s entry for `host_id`.
    pub fn set_rights(&self, user_id: i64, host_id: &str, rights: Option<HostRights>) -> Result<(), StoreError> {
        let db = self.db()?;
        match rights.map(HostRights::normalized) {
            Some(r) => db.execute(
                &format!(
                    "INSERT INTO host_access (user_id, host_id, {RIGHTS_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (user_id, host_id) DO UPDATE SET can_view = ?3, can_control = ?4, can_power = ?5,
                         can_run = ?6, can_media = ?7"
                ),
                params![user_id, host_id, r.view, r.control, r.power, r.run, r.media],
            )?,
            None => {
                db.execute("DELETE FROM host_access WHERE user_id = ?1 AND host_id = ?2", params![user_id, host_id])?
            }
        };
        Ok(())
    }

    /// The explicit entries of a host's access list.
    pub fn access_list(&self, host_id: &str) -> Result<Vec<AccessEntry>, StoreError> {
        let db = self.db()?;
        let mut stmt = db.prepare(
            "SELECT a.user_id, u.username, a.can_view, a.can_control, a.can_power, a.can_run, a.can_media
             FROM host_access a JOIN users u ON u.id = a.user_id WHERE a.host_id = ?1 ORDER BY u.username",
        )?;
        let rows = stmt.query_map(params![host_id], |r| {
            Ok(AccessEntry { user_id: r.get(0)?, username: r.get(1)?, rights: rights_at(r, 2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_give_defaults_and_entries_override_them_per_host() {
        let store = UserStore::in_memory().unwrap();
        let viewer =
            store.by_id(store.create("vera", "a long password", Role::ReadOnly, false).unwrap()).unwrap().unwrap();
        let ops =
            store.by_id(store.create("otto", "a long password", Role::Operator, false).unwrap()).unwrap().unwrap();
        let managed = HostClass::Managed;
        assert_eq!(store.rights(&viewer, "local", managed).unwrap(), HostRights::VIEW);
        assert_eq!(store.rights(&ops, "local", managed).unwrap(), HostRights::OPERATE, "directives are granted");
        assert_eq!(store.rights(&ops, "shell", HostClass::ControllerShell).unwrap(), HostRights::VIEW);

        store
            .set_rights(
                viewer.id,
                "lab",
                Some(HostRights { view: false, control: true, power: false, run: false, media: false }),
            )
            .unwrap();
        store
            .set_rights(
                ops.id,
                "local",
                Some(HostRights { view: false, control: false, power: false, run: false, media: false }),
            )
            .unwrap();
        assert_eq!(
            store.rights(&viewer, "lab", managed).unwrap(),
            HostRights { view: true, control: true, power: false, run: false, media: false }
        );
        assert_eq!(store.rights(&ops, "local", managed).unwrap(), HostRights::default());
        assert_eq!(
            store.rights(&ops, "lab", managed).unwrap(),
            HostRights::OPERATE,
            "only the host with the entry changes"
        );
        assert_eq!(store.access_list("local").unwrap()[0].username, "otto");

        store.set_rights(ops.id, "local", None).unwrap();
        assert_eq!(store.rights(&ops, "local", managed).unwrap(), HostRights::OPERATE);
        store.set_rights(ops.id, "local", Some(HostRights::VIEW)).unwrap();
        let rows = |store: &UserStore| -> i64 {
            // The table itself, not `access_list`, whose join would hide a deleted user's rows.
            let db = store.db().unwrap();
            db.query_row("SELECT COUNT(*) FROM host_access WHERE user_id = ?1", [ops.id], |r| r.get(0)).unwrap()
        };
        assert_eq!(rows(&store), 1);
        store.delete(ops.id).unwrap();
        assert_eq!(rows(&store), 0, "a deleted user's entries go with them");
    }

    #[test]
    fn the_media_right_is_kept_implies_view_and_older_tables_gain_its_column() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE host_access (user_id INTEGER NOT NULL, host_id TEXT NOT NULL, can_view INTEGER NOT NULL,
                 can_control INTEGER NOT NULL, can_power INTEGER NOT NULL, PRIMARY KEY (user_id, host_id));
             INSERT INTO host_access VALUES (1, 'db1', 1, 1, 0);",
        )
        .unwrap();
        migrate(&db).unwrap();
        let kept = db.query_row(&format!("SELECT {RIGHTS_COLUMNS} FROM host_access"), [], |r| rights_at(r, 0)).unwrap();
        assert_eq!(kept, HostRights { view: true, control: true, power: false, run: false, media: false });

        let store = UserStore::in_memory().unwrap();
        let otto =
            store.by_id(store.create("otto", "a long password", Role::Operator, false).unwrap()).unwrap().unwrap();
        let media_only = HostRights { view: false, control: false, power: false, run: false, media: true };
        store.set_rights(otto.id, "db1", Some(media_only)).unwrap();
        assert_eq!(store.rights(&otto, "db1", HostClass::Managed).unwrap(), HostRights { view: true, ..media_only });
        assert!(HostRights::default_for(Role::Operator, HostClass::Managed).media);
        assert!(!HostRights::default_for(Role::Operator, HostClass::ControllerShell).media);
    }
}
