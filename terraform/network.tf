module "vpc" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.16.0"

  name = local.name
  cidr = var.vpc_cidr
  azs  = local.azs

  # The address plan is in subnets.tf (the internal ALB subnets are created below).
  private_subnets  = local.subnet_cidrs.private
  public_subnets   = local.subnet_cidrs.public
  intra_subnets    = local.subnet_cidrs.intra
  database_subnets = local.subnet_cidrs.database

  create_database_subnet_group = true

  enable_nat_gateway   = true
  single_nat_gateway   = var.single_nat_gateway
  enable_dns_hostnames = true
  enable_dns_support   = true

  # The default security group of the VPC allows nothing.
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_max_aggregation_interval               = 60
  flow_log_cloudwatch_log_group_retention_in_days = 365
  flow_log_cloudwatch_log_group_kms_key_id        = aws_kms_key.main.arn

  # Tags the AWS Load Balancer Controller uses to place load balancers: internet-facing ones in
  # the public subnets, internal ones in the internal ALB subnets below (not in the node subnets).
  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }
}

# Internal load balancers (the operator UIs on the chart's private ingress): their own subnets,
# so a NetworkPolicy can admit them by address. They route through the private route tables: an
# ALB that logs users in (Cognito) calls the identity provider's endpoints through the NAT.
resource "aws_subnet" "internal_alb" {
  count = length(local.azs)

  vpc_id            = module.vpc.vpc_id
  availability_zone = local.azs[count.index]
  cidr_block        = local.subnet_cidrs.internal_alb[count.index]

  tags = {
    Name                              = "${local.name}-internal-alb-${local.azs[count.index]}"
    "kubernetes.io/role/internal-elb" = 1
  }
}

resource "aws_route_table_association" "internal_alb" {
  count = length(local.azs)

  subnet_id = aws_subnet.internal_alb[count.index].id
  # One private route table per zone, or a single one with single_nat_gateway.
  route_table_id = element(module.vpc.private_route_table_ids, count.index)
}
