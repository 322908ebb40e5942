# Values derived from variables alone. No resources or data sources here, so tests evaluate
# them with `terraform console` (tests/deploy/test_terraform.py).

locals {
  # RDS parameter group family of rds_engine_version: "16" and "16.4" -> postgres16.
  rds_parameter_group_family = "postgres${split(".", var.rds_engine_version)[0]}"

  # The cluster security group admits the private API endpoint from these ranges (a self-hosted
  # deploy runner or operators in the VPC or a peered network / VPN): module.eks's
  # cluster_security_group_additional_rules.
  cluster_endpoint_private_rules = {
    for index, cidr in var.cluster_endpoint_private_access_cidrs : "private_endpoint_${index}" => {
      description = "EKS API (private endpoint) from ${cidr}"
      type        = "ingress"
      protocol    = "tcp"
      from_port   = 443
      to_port     = 443
      cidr_blocks = [cidr]
    }
  }
}
