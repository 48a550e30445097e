# Gofer itself as a Nomad service job: API replicas and worker replicas of the gofer image, each group
# rolled one allocation at a time on upgrades and checked through Gofer's own /readyz.
#
#   nomad var put nomad/jobs/gofer \
#     database_url=postgres://USER:PASSWORD@HOST:5432/gofer redis_url=redis://HOST:6379 \
#     s3_access_key_id=… s3_secret_access_key=… encryption_key="$(openssl rand -base64 32)"
#   nomad job run -var advertise_addr=LOAD_BALANCER:8080 -var object_store=s3://BUCKET \
#     -var s3_endpoint=https://S3_HOST deploy/nomad/gofer.nomad.hcl
#
# Postgres, Redis (`maxmemory-policy noeviction`, AOF) and the S3 bucket are yours: this job runs only
# Gofer. Secrets come from the Nomad variable at nomad/jobs/gofer, which the job's tasks may read by
# their workload identity; nothing secret is in this file or its -var flags.
#
# Clients reach the API replicas through a gRPC load balancer of your own (deploy/nginx/gofer.conf is
# one: list the `gofer-api-grpc` service's addresses as its upstream, e.g. from a Nomad template with
# nomadService), and task containers get that address as GOFER_HOST (advertise_addr).
#
# Triggers: trigger containers are started on the Docker engine of the leading worker and dialled at a
# port published on that machine's loopback (GOFER_DOCKER_SERVICE_ADDRESS=published), which API
# replicas on other machines cannot reach. The built-in triggers are therefore off by default here
# (builtin_triggers); turn them on only where every API replica runs beside the workers' Docker engine.
#
# No Nomad binary is available where this project is built and tested: test/deploy/nomad-job.spec.ts
# checks this file structurally (it parses as HCL; groups, counts, checks, update and restart stanzas;
# every variable it sets is one Gofer's config accepts; ports match the image's GOFER_GRPC_ADDR and
# GOFER_HTTP_ADDR). Validate it against your cluster with `nomad job validate` and `nomad job plan`.

variable "image" {
  type        = string
  default     = "gofer:local"
  description = "The gofer image (./Dockerfile), pushed to a registry your clients can pull from."
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "advertise_addr" {
  type        = string
  description = "HOST:PORT of the gRPC load balancer in front of the API replicas: what task containers get as GOFER_HOST."
}

variable "object_store" {
  type        = string
  description = "Where objects and archived logs live: s3://bucket[/prefix] (a directory does not work across machines)."
}

variable "s3_endpoint" {
  type        = string
  default     = ""
  description = "S3 endpoint for MinIO or another S3-compatible server; empty for AWS S3."
}

variable "builtin_triggers" {
  type        = string
  default     = "none"
  description = "GOFER_BUILTIN_TRIGGERS; see the note on triggers above."
}

variable "api_count" {
  type    = number
  default = 2
}

variable "worker_count" {
  type    = number
  default = 2
}

job "gofer" {
  type        = "service"
  datacenters = var.datacenters

  group "api" {
    count = var.api_count

    # Replicas on different machines where there are several.
    spread {
      attribute = "${node.unique.id}"
    }

    network {
      # The container listens on the image's addresses (0.0.0.0:8080 gRPC, 0.0.0.0:8081 HTTP); Nomad
      # maps a port of the machine to each.
      port "grpc" {
        to = 8080
      }
      port "http" {
        to = 8081
      }
    }

    # The load balancer's upstream. Ready means Postgres and Redis both answer (/readyz), so a replica
    # cut off from them is taken out of the balancer and does not count as healthy in a deployment.
    service {
      name     = "gofer-api-grpc"
      provider = "nomad"
      port     = "grpc"

      check {
        name     = "ready"
        type     = "http"
        port     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
      }
    }

    service {
      name     = "gofer-api-http"
      provider = "nomad"
      port     = "http"
      # Scraped by Prometheus (nomad_sd_configs), replica by replica.
      tags = ["metrics"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
      }
    }

    # Rolling upgrades, one replica at a time: the next starts only once the new one has passed its
    # checks for min_healthy_time; a new version that never does is rolled back. Migrations run at the
    # first new replica's boot, under a Postgres advisory lock (libs/dal/src/data-source.ts).
    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "15s"
      healthy_deadline  = "3m"
      progress_deadline = "10m"
      auto_revert       = true
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "api" {
      driver = "docker"

      config {
        image = var.image
        args  = ["service", "start", "--roles", "api"]
        ports = ["grpc", "http"]
      }

      env {
        GOFER_OBJECT_STORE     = var.object_store
        GOFER_S3_ENDPOINT      = var.s3_endpoint
        GOFER_ADVERTISE_ADDR   = var.advertise_addr
        GOFER_BUILTIN_TRIGGERS = var.builtin_triggers
      }

      template {
        destination = "secrets/gofer.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/gofer" -}}
          GOFER_DATABASE_URL={{ .database_url }}
          GOFER_REDIS_URL={{ .redis_url }}
          GOFER_S3_ACCESS_KEY_ID={{ .s3_access_key_id }}
          GOFER_S3_SECRET_ACCESS_KEY={{ .s3_secret_access_key }}
          GOFER_ENCRYPTION_KEY={{ .encryption_key }}
          {{- end }}
        EOT
      }

      # Deregistered from the balancer first, then SIGTERM: the replica ends its streams, whose
      # followers reconnect through the balancer to another replica.
      shutdown_delay = "5s"
      kill_signal    = "SIGTERM"
      kill_timeout   = "30s"

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }

  group "worker" {
    count = var.worker_count

    spread {
      attribute = "${node.unique.id}"
    }

    network {
      port "http" {
        to = 8081
      }
    }

    # Workers serve /healthz, /readyz and /metrics only.
    service {
      name     = "gofer-worker"
      provider = "nomad"
      port     = "http"
      tags     = ["metrics"]

      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
      }
    }

    update {
      max_parallel      = 1
      health_check      = "checks"
      min_healthy_time  = "15s"
      healthy_deadline  = "3m"
      progress_deadline = "10m"
      auto_revert       = true
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "worker" {
      driver = "docker"

      # Task containers are started by this machine's Docker engine through its socket, which is root
      # on the machine either way; the image's uid 1000 could not open it. Needs the docker plugin's
      # `volumes { enabled = true }` in the Nomad client's configuration.
      user = "root"

      config {
        image   = var.image
        args    = ["service", "start", "--roles", "worker"]
        ports   = ["http"]
        volumes = ["/var/run/docker.sock:/var/run/docker.sock"]
      }

      env {
        GOFER_OBJECT_STORE     = var.object_store
        GOFER_S3_ENDPOINT      = var.s3_endpoint
        GOFER_ADVERTISE_ADDR   = var.advertise_addr
        GOFER_BUILTIN_TRIGGERS = var.builtin_triggers
        # Names the worker in task runs and container labels; unique per live worker.
        GOFER_WORKER_ID = "worker-${NOMAD_SHORT_ALLOC_ID}"
      }

      template {
        destination = "secrets/gofer.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/gofer" -}}
          GOFER_DATABASE_URL={{ .database_url }}
          GOFER_REDIS_URL={{ .redis_url }}
          GOFER_S3_ACCESS_KEY_ID={{ .s3_access_key_id }}
          GOFER_S3_SECRET_ACCESS_KEY={{ .s3_secret_access_key }}
          GOFER_ENCRYPTION_KEY={{ .encryption_key }}
          {{- end }}
        EOT
      }

      # On SIGTERM the worker stops taking work, hands its running attempts to the other workers
      # (their containers keep running) and marks itself gone. 30 s is also the Nomad client's default
      # max_kill_timeout, which caps this.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
