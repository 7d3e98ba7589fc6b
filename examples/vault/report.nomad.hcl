# A batch job with its own Vault role: report-job, bound to the job ID "report", grants the
# policy db-reporting, which reads short-lived PostgreSQL credentials from OpenBao's database
# secrets engine. The task connects with them and prints the user it connected as.
#
#   drover job run examples/vault/report.nomad.hcl
#   drover job run -var pg_port=5433 examples/vault/report.nomad.hcl   # another port
variable "pg_host" {
  type        = string
  default     = "127.0.0.1"
  description = "Where PostgreSQL listens."
}

variable "pg_port" {
  type        = number
  default     = 5432
  description = "PostgreSQL's TCP port."
}

variable "vault_role" {
  type        = string
  default     = "report-job"
  description = "The Vault role to log in with; empty for the auth method's default role."
}

job "report" {
  type = "batch"

  group "query" {
    # A report that cannot run is not retried here: its events say why.
    restart {
      attempts = 0
      mode     = "fail"
    }

    task "psql" {
      driver = "raw_exec"

      vault {
        role = var.vault_role
      }

      # Each read of database/creds/reporting creates a PostgreSQL user that OpenBao drops
      # when its lease ends.
      template {
        data        = <<-EOT
          {{ with secret "database/creds/reporting" }}
          PGUSER={{ .Data.username }}
          PGPASSWORD={{ .Data.password }}
          {{ end }}
        EOT
        destination = "secrets/db.env"
        env         = true
      }

      env {
        PGHOST     = var.pg_host
        PGPORT     = "${var.pg_port}"
        PGDATABASE = "postgres"
      }

      config {
        command = "/usr/bin/psql"
        args    = ["-X", "-c", "select current_user"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
