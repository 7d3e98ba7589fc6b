# A service job: a small web server on a port the scheduler picks.
#   drover job run examples/web.nomad.hcl
#   drover alloc status <alloc-id>     # shows the port
variable "greeting" {
  type    = string
  default = "hello from drover"
}

job "web" {
  datacenters = ["dc*"]

  group "site" {
    count = 1

    network {
      port "http" {}
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/env"
        args    = ["python3", "-m", "http.server", "${NOMAD_PORT_http}", "--bind", "${NOMAD_IP_http}"]
      }

      env {
        GREETING = var.greeting
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
