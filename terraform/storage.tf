module "ecr" {
  source   = "./modules/ecr_repository"
  for_each = toset(var.ecr_repositories)

  name        = "${var.project}/${each.value}"
  kms_key_arn = aws_kms_key.main.arn
}

# Server access logs of the buckets below. SSE-S3, not the project key: S3 delivers server
# access logs only to a destination bucket whose default encryption is SSE-S3; with SSE-KMS
# the logs are silently never written.
module "access_logs" {
  source = "./modules/s3_bucket"

  name                               = "${local.name}-access-logs-${local.account_id}"
  kms_key_arn                        = null
  allow_log_delivery                 = true
  noncurrent_version_expiration_days = 30
}

# MLflow artifacts (the tracking server proxies them: mlflow.artifactsDestination in the chart).
module "mlflow_artifacts" {
  source = "./modules/s3_bucket"

  name                               = "${local.name}-mlflow-artifacts-${local.account_id}"
  kms_key_arn                        = aws_kms_key.main.arn
  access_log_bucket                  = module.access_logs.bucket_id
  noncurrent_version_expiration_days = var.artifact_retention_days
}

# Feast keeps no files in S3: its offline store reads the indicator tables on the shared data
# volume (a file source), the registry is in Postgres and the online store in Redis (the chart's
# feast values), so there is no Feast bucket.

# The data directory the code server, run pods and API replicas share (ReadWriteMany PVC on the
# efs-sc StorageClass: kubernetes.tf).
resource "aws_efs_file_system" "data" {
  creation_token   = "${local.name}-data"
  encrypted        = true
  kms_key_id       = aws_kms_key.main.arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  lifecycle_policy {
    transition_to_ia = "AFTER_30_DAYS"
  }

  tags = {
    Name = "${local.name}-data"
  }
}

resource "aws_efs_backup_policy" "data" {
  file_system_id = aws_efs_file_system.data.id
  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_security_group" "efs" {
  name        = "${local.name}-efs"
  description = "NFS from the EKS nodes to the shared data file system"
  vpc_id      = module.vpc.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_nodes" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from EKS nodes"
  referenced_security_group_id = module.eks.node_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

resource "aws_efs_mount_target" "data" {
  count = length(local.azs)

  file_system_id  = aws_efs_file_system.data.id
  subnet_id       = module.vpc.private_subnets[count.index]
  security_groups = [aws_security_group.efs.id]
}
