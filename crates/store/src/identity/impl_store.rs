//! [`crate::IdentityStore`] for a backend, by the shared sequences of
//! `identity.rs` on top of the backend's `IdentityRows`.

/// Implements [`IdentityStore`] for a backend with the shared sequences.
macro_rules! impl_identity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::IdentityStore for $store {
            async fn users_exist(&self) -> $crate::StoreResult<bool> {
                $crate::identity::users_exist(self).await
            }
            async fn workspace_create(
                &self,
                p: $crate::WorkspaceCreateParams,
            ) -> $crate::StoreResult<$crate::Workspace> {
                $crate::identity::workspace_create(self, p).await
            }
            async fn workspace_get(&self, name: &str) -> $crate::StoreResult<$crate::Workspace> {
                $crate::identity::workspace_get(self, name).await
            }
            async fn user_create(
                &self,
                p: $crate::UserCreateParams,
            ) -> $crate::StoreResult<$crate::User> {
                $crate::identity::user_create(self, p).await
            }
            async fn user_credentials(
                &self,
                name: &str,
            ) -> $crate::StoreResult<$crate::UserCredentials> {
                $crate::identity::user_credentials(self, name).await
            }
            async fn member_set(
                &self,
                p: $crate::MemberSetParams,
            ) -> $crate::StoreResult<$crate::MemberSet> {
                $crate::identity::member_set(self, p).await
            }
            async fn member_role(
                &self,
                workspace_id: &str,
                user: &str,
            ) -> $crate::StoreResult<Option<opsroom_auth::Role>> {
                $crate::identity::member_role(self, workspace_id, user).await
            }
            async fn token_create(
                &self,
                p: $crate::TokenCreateParams,
            ) -> $crate::StoreResult<$crate::ApiToken> {
                $crate::identity::token_create(self, p).await
            }
            async fn token_lookup(
                &self,
                digest: &str,
            ) -> $crate::StoreResult<Option<$crate::TokenAuth>> {
                $crate::identity::token_lookup(self, digest).await
            }
            async fn token_get(
                &self,
                workspace_id: &str,
                id: i64,
            ) -> $crate::StoreResult<$crate::ApiToken> {
                $crate::identity::token_get(self, workspace_id, id).await
            }
            async fn token_revoke(
                &self,
                p: $crate::TokenRevokeParams,
            ) -> $crate::StoreResult<$crate::ApiToken> {
                $crate::identity::token_revoke(self, p).await
            }
            async fn ui_session_create(
                &self,
                p: $crate::UiSessionCreateParams,
            ) -> $crate::StoreResult<()> {
                $crate::identity::ui_session_create(self, p).await
            }
            async fn ui_session_lookup(
                &self,
                digest: &str,
            ) -> $crate::StoreResult<Option<$crate::UiSessionAuth>> {
                $crate::identity::ui_session_lookup(self, digest).await
            }
            async fn ui_session_delete(
                &self,
                p: $crate::UiSessionDeleteParams,
            ) -> $crate::StoreResult<bool> {
                $crate::identity::ui_session_delete(self, p).await
            }
        }
    };
}
pub(crate) use impl_identity_store;
