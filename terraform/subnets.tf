# The VPC's address plan: one subnet of each kind per availability zone, carved out of vpc_cidr
# (a /16 by default). No resources or data sources here, so the plan can be evaluated on its own
# (tests/deploy/test_terraform.py runs `terraform console` on it and checks that no two overlap).
#
#   private       /20 each (index 0-2): nodes and pods; the VPC CNI gives every pod a VPC address
#   public        /24 (48-50): internet-facing load balancers, NAT gateways
#   intra         /24 (52-54): the EKS control plane's network interfaces
#   database      /24 (56-58): RDS
#   internal_alb  /24 (60-62): internal load balancers only, so that the chart's NetworkPolicies
#                 admit the internal ALB's addresses without admitting every pod of the VPC
locals {
  zone_indexes = range(var.availability_zone_count)

  subnet_cidrs = {
    private      = [for i in local.zone_indexes : cidrsubnet(var.vpc_cidr, 4, i)]
    public       = [for i in local.zone_indexes : cidrsubnet(var.vpc_cidr, 8, 48 + i)]
    intra        = [for i in local.zone_indexes : cidrsubnet(var.vpc_cidr, 8, 52 + i)]
    database     = [for i in local.zone_indexes : cidrsubnet(var.vpc_cidr, 8, 56 + i)]
    internal_alb = [for i in local.zone_indexes : cidrsubnet(var.vpc_cidr, 8, 60 + i)]
  }
}
