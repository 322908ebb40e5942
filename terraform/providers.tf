provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# The cluster's API through a short-lived token (`aws eks get-token`): whoever runs terraform
# needs the AWS CLI and an address in cluster_endpoint_public_access_cidrs (or a path to the
# private endpoint). The cluster creator is a cluster admin (enable_cluster_creator_admin_permissions).
provider "kubernetes" {
  host                   = module.eks.cluster_endpoint
  cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)

  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
  }
}

provider "helm" {
  kubernetes = {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)

    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
  }
}
