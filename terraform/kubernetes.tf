# Cluster objects the chart expects to exist: its namespace (the CI role may only act inside it),
# the StorageClasses its volumes ask for, and the Postgres Secret its pods read.

resource "kubernetes_namespace_v1" "stockops" {
  metadata {
    name = var.kubernetes_namespace
    labels = {
      # The chart's own pods meet "restricted"; the third-party images it runs (Postgres, Redis,
      # Qdrant) are held to "baseline".
      "pod-security.kubernetes.io/enforce" = "baseline"
      "pod-security.kubernetes.io/warn"    = "restricted"
    }
  }

  depends_on = [module.eks]
}

# EKS (1.30 and later) ships no default StorageClass: claims without a class stay Pending. gp3
# is the default here, encrypted with the project key, bound where the pod lands.
resource "kubernetes_storage_class_v1" "gp3" {
  metadata {
    name = "gp3"
    annotations = {
      "storageclass.kubernetes.io/is-default-class" = "true"
    }
  }

  storage_provisioner    = "ebs.csi.aws.com"
  reclaim_policy         = "Delete"
  volume_binding_mode    = "WaitForFirstConsumer"
  allow_volume_expansion = true

  parameters = {
    type                        = "gp3"
    encrypted                   = "true"
    kmsKeyId                    = aws_kms_key.main.arn
    "csi.storage.k8s.io/fstype" = "ext4"
  }

  depends_on = [module.eks]
}

# The shared data directory (persistence.data.storageClass: efs-sc, ReadWriteMany): one EFS
# access point per claim, owned by the images' uid/gid 10001.
resource "kubernetes_storage_class_v1" "efs" {
  metadata {
    name = "efs-sc"
  }

  storage_provisioner = "efs.csi.aws.com"
  reclaim_policy      = "Retain"
  volume_binding_mode = "Immediate"

  parameters = {
    provisioningMode = "efs-ap"
    fileSystemId     = aws_efs_file_system.data.id
    directoryPerms   = "0770"
    uid              = "10001"
    gid              = "10001"
  }

  depends_on = [module.eks, aws_efs_mount_target.data]
}

# The chart reads secrets.postgresql (stockops-postgresql, key postgres-password) and, with
# feast.registry=sql, secrets.feast (same Secret, key feast-registry-url). terraform/README.md
# documents the keys and how to rotate the password.
resource "kubernetes_secret_v1" "postgresql" {
  metadata {
    name      = local.postgresql_secret_name
    namespace = kubernetes_namespace_v1.stockops.metadata[0].name
  }

  type = "Opaque"
  data = local.postgresql_secret_data
}

# The deploy role's permissions in the release's namespace: its access entry (eks.tf) puts it in
# this group, bound here to Kubernetes' built-in `admin` ClusterRole (everything in a namespace
# except the namespace itself and its quotas), which holds every permission of the chart's Role.
resource "kubernetes_role_binding_v1" "deployers" {
  metadata {
    name      = "${local.deployer_group}-admin"
    namespace = kubernetes_namespace_v1.stockops.metadata[0].name
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "admin"
  }

  subject {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Group"
    name      = local.deployer_group
  }
}
