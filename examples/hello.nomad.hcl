# A batch job: one raw_exec task that greets, shows its environment and finishes.
#   drover job run examples/hello.nomad.hcl
#   drover alloc logs <alloc-id>
job "hello" {
  type = "batch"

  group "greet" {
    task "say" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo \"hello from ${NOMAD_ALLOC_NAME} (${NOMAD_ALLOC_ID}) on ${node.unique.name}\"; env | grep ^NOMAD_ | sort"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
