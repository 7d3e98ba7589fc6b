# Vault policy db-reporting: read dynamic credentials of the database role "reporting".
path "database/creds/reporting" {
  capabilities = ["read"]
}
