# A task with workload identities: the default identity in its environment and in a file,
# and a short-lived named identity for a partner service, signed with EdDSA and renewed
# before it expires. Anyone can verify both with the keys at /.well-known/jwks.json.
#
#   drover job run examples/identity.nomad.hcl
#   drover alloc logs <alloc-id>
job "whoami" {
  group "app" {
    task "show" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args = ["-c", <<-EOT
          echo "token=$NOMAD_TOKEN"
          [ "$NOMAD_TOKEN" = "$(cat "$NOMAD_SECRETS_DIR/nomad_token")" ] && echo "file matches env"
          echo "partner=$(cat "$NOMAD_SECRETS_DIR/nomad_partner.jwt")"
          exec sleep 3600
        EOT
        ]
      }

      identity {
        env  = true
        file = true
      }

      identity {
        name              = "partner"
        aud               = ["partner.example"]
        ttl               = "1h"
        file              = true
        signing_algorithm = "EdDSA"
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
