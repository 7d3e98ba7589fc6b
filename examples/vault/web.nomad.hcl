# A web service that reads a static secret from OpenBao's KV store into its environment.
# The default Vault role lets a job read secret/data/<namespace>/<job>, so this job, "web" in
# namespace "default", reads secret/data/default/web.
#
#   bao kv put -mount=secret default/web greeting="hello from OpenBao"
#   drover job run examples/vault/web.nomad.hcl
job "web" {
  group "site" {
    network {
      port "http" {}
    }

    task "server" {
      driver = "raw_exec"

      # Log in to Vault with the task's workload identity and the default role.
      vault {}

      # Rendered into the secrets dir and exported into the task's environment.
      template {
        data        = <<-EOT
          {{ with secret "secret/data/default/web" }}
          GREETING={{ .Data.data.greeting }}
          {{ end }}
        EOT
        destination = "secrets/web.env"
        env         = true
      }

      config {
        command = "/bin/sh"
        args = ["-c", <<-EOT
          echo "greeting: $GREETING"
          mkdir -p "$NOMAD_TASK_DIR/site"
          echo "<h1>$GREETING</h1>" > "$NOMAD_TASK_DIR/site/index.html"
          exec python3 -m http.server "$NOMAD_PORT_http" --bind "$NOMAD_IP_http" --directory "$NOMAD_TASK_DIR/site"
        EOT
        ]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
