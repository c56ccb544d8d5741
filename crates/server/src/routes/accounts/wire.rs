//! What the account routes read and answer: sign-up, log-in, tokens, roles.

use serde::{Deserialize, Serialize};
use stampede_store::User;
use utoipa::ToSchema;

use crate::routes::common::wire::{email_schema, label_schema, name_schema};

#[derive(Deserialize, ToSchema)]
pub struct SignUpRequest {
    #[schema(schema_with = email_schema)]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(schema_with = name_schema)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LogInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
    /// What the token is for, to recognise it later.
    #[serde(default)]
    #[schema(schema_with = label_schema)]
    pub label: String,
    /// Seconds until the token stops working (60 to 31,622,400); absent: until revoked.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31_622_400)]
    pub expires_in: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct AdminCreateUser {
    #[schema(schema_with = email_schema)]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(schema_with = name_schema)]
    pub name: String,
    #[schema(value_type = RoleName)]
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
pub struct BulkUsersRequest {
    #[schema(minimum = 1, maximum = 10000)]
    pub count: i64,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub name_prefix: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RoleRequest {
    #[schema(value_type = RoleName)]
    pub role: String,
}

/// An account's role.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: roles travel as strings
pub enum RoleName {
    Participant,
    Organizer,
    Admin,
}

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: u64,
    pub email: String,
    pub name: String,
    pub role: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut { id: u.id.0, email: u.email.clone(), name: u.name.clone(), role: u.role.as_str().to_owned() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    pub user: UserOut,
    pub csrf_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    pub token: String,
    /// Its id, to revoke it with `DELETE /api/auth/tokens/{id}`.
    pub id: u64,
    /// When it stops working (RFC 3339); absent: until revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub user: UserOut,
}

/// One of your API tokens, as `GET /api/auth/tokens` lists it (never the token itself).
#[derive(Serialize, ToSchema)]
pub struct TokenInfoOut {
    pub id: u64,
    pub label: String,
    pub created_at: String,
    /// When it stops working (RFC 3339); absent: until revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokensOut {
    pub tokens: Vec<TokenInfoOut>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkUserOut {
    pub id: u64,
    pub name: String,
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct BulkUsersOut {
    pub users: Vec<BulkUserOut>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct ProfileRequest {
    #[schema(schema_with = name_schema)]
    pub name: String,
}
