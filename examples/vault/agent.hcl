# Agent configuration for the Vault tutorial (README.md beside this file): tasks that have a
# `vault` block log in to OpenBao with their workload identity at auth/jwt-nomad and get a
# Vault token of their own. Use it with a development agent:
#
#   drover agent -dev -config examples/vault/agent.hcl
vault {
  enabled               = true
  address               = "http://127.0.0.1:8200"
  jwt_auth_backend_path = "jwt-nomad"

  # The identity a task gets for Vault when it declares none of its own.
  default_identity {
    aud = ["vault.io"]
    ttl = "1h"
  }
}
