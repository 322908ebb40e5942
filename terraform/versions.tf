terraform {
  # 1.10: the S3 backend's own locking (use_lockfile in backend.hcl.example); 1.9 brought the
  # variable validations that read other variables (the endpoint allow-list).
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    # Cluster add-ons (Helm charts) and the few cluster objects the chart relies on (namespace,
    # StorageClasses, the Postgres Secret).
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.2"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Partial configuration: `terraform init -backend-config=backend.hcl` (see backend.hcl.example).
  backend "s3" {}
}
