//! Administration (immuadmin's job): users and their permissions, databases, server status.

use stele_proto::immudb as pb;

use crate::connection::Client;
use crate::error::{ClientError, Result};

/// A user's permission on a database (wire spec 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the database (code 1).
    Read,
    /// Read and write it (code 2).
    ReadWrite,
    /// Administer it: its users' permissions, and every read and write (code 254).
    Admin,
}

impl Permission {
    /// The permission's code on the wire (1, 2 or 254).
    pub fn code(self) -> u32 {
        match self {
            Permission::Read => 1,
            Permission::ReadWrite => 2,
            Permission::Admin => 254,
        }
    }

    /// `read`, `readwrite` or `admin`.
    pub fn parse(s: &str) -> Result<Permission> {
        match s.to_ascii_lowercase().as_str() {
            "read" | "r" => Ok(Permission::Read),
            "readwrite" | "rw" => Ok(Permission::ReadWrite),
            "admin" => Ok(Permission::Admin),
            _ => Err(ClientError::Input(format!(
                "unknown permission {s:?}: use read, readwrite or admin"
            ))),
        }
    }

    /// The name of a permission code as a user reads it.
    pub fn name_of(code: u32) -> &'static str {
        match code {
            0 => "none",
            1 => "read",
            2 => "readwrite",
            254 => "admin",
            255 => "sysadmin",
            _ => "unknown",
        }
    }
}

impl Client {
    /// The users the logged-in user may see, with their permissions.
    pub fn list_users(&self) -> Result<Vec<pb::User>> {
        Ok(self
            .call(|mut s| async move { s.list_users(()).await })?
            .users)
    }

    /// Creates `user` with `password` and `permission` on `database`.
    pub fn create_user(
        &self,
        user: &str,
        password: &str,
        permission: Permission,
        database: &str,
    ) -> Result<()> {
        let r = pb::CreateUserRequest {
            user: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
            permission: permission.code(),
            database: database.to_string(),
        };
        self.call(|mut s| async move { s.create_user(r).await })
    }

    /// Changes `user`'s password; the old one is needed for one's own.
    pub fn change_password(&self, user: &str, old: &str, new: &str) -> Result<()> {
        let r = pb::ChangePasswordRequest {
            user: user.as_bytes().to_vec(),
            old_password: old.as_bytes().to_vec(),
            new_password: new.as_bytes().to_vec(),
        };
        self.call(|mut s| async move { s.change_password(r).await })
    }

    /// Grants or revokes `permission` on `database` to `user`.
    pub fn change_permission(
        &self,
        grant: bool,
        user: &str,
        database: &str,
        permission: Permission,
    ) -> Result<()> {
        let action = if grant {
            pb::PermissionAction::Grant
        } else {
            pb::PermissionAction::Revoke
        };
        let r = pb::ChangePermissionRequest {
            action: action as i32,
            username: user.to_string(),
            database: database.to_string(),
            permission: permission.code(),
        };
        self.call(|mut s| async move { s.change_permission(r).await })
    }

    /// Activates or deactivates `user` (a deactivated user cannot log in).
    pub fn set_active(&self, user: &str, active: bool) -> Result<()> {
        let r = pb::SetActiveUserRequest {
            active,
            username: user.to_string(),
        };
        self.call(|mut s| async move { s.set_active_user(r).await })
    }

    /// Creates `name`; with `if_not_exists` an existing database is not an error.
    pub fn create_database(
        &self,
        name: &str,
        if_not_exists: bool,
    ) -> Result<pb::CreateDatabaseResponse> {
        let r = pb::CreateDatabaseRequest {
            name: name.to_string(),
            settings: None,
            if_not_exists,
        };
        self.call(|mut s| async move { s.create_database_v2(r).await })
    }

    /// The databases the logged-in user may see, with their settings and state.
    pub fn list_databases(&self) -> Result<Vec<pb::DatabaseInfo>> {
        Ok(self
            .call(|mut s| async move { s.database_list_v2(pb::DatabaseListRequestV2 {}).await })?
            .databases)
    }

    /// Loads (opens) database `name` on the server.
    pub fn load_database(&self, name: &str) -> Result<()> {
        let r = pb::LoadDatabaseRequest {
            database: name.to_string(),
        };
        self.call(|mut s| async move { s.load_database(r).await })
            .map(drop)
    }

    /// Unloads (closes) database `name` on the server; its data stays.
    pub fn unload_database(&self, name: &str) -> Result<()> {
        let r = pb::UnloadDatabaseRequest {
            database: name.to_string(),
        };
        self.call(|mut s| async move { s.unload_database(r).await })
            .map(drop)
    }

    /// Deletes an unloaded database and its data.
    pub fn delete_database(&self, name: &str) -> Result<()> {
        let r = pb::DeleteDatabaseRequest {
            database: name.to_string(),
        };
        self.call(|mut s| async move { s.delete_database(r).await })
            .map(drop)
    }

    /// The settings of this session's database.
    pub fn database_settings(&self) -> Result<pb::DatabaseSettingsResponse> {
        self.call(|mut s| async move {
            s.get_database_settings_v2(pb::DatabaseSettingsRequest {})
                .await
        })
    }

    /// The server's version, start time, database count, tx count and disk use (ServerInfo).
    pub fn server_info(&self) -> Result<pb::ServerInfoResponse> {
        self.call(|mut s| async move { s.server_info(pb::ServerInfoRequest {}).await })
    }
}
