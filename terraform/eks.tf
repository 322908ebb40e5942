module "eks" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/eks/aws"
  version = "20.31.0"

  cluster_name    = local.name
  cluster_version = var.kubernetes_version

  # The deploy job and terraform reach the API from cluster_endpoint_public_access_cidrs (public
  # ranges only: variables.tf), pods and VPC clients through the private endpoint.
  cluster_endpoint_public_access       = var.cluster_endpoint_public_access
  cluster_endpoint_public_access_cidrs = var.cluster_endpoint_public_access_cidrs
  cluster_endpoint_private_access      = true
  # The private endpoint admits the node group only, plus these ranges (variables.tf).
  cluster_security_group_additional_rules = local.cluster_endpoint_private_rules

  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  control_plane_subnet_ids = module.vpc.intra_subnets

  # IAM roles for service accounts (the chart's workload account, the CSI drivers).
  enable_irsa = true

  # Kubernetes Secrets encrypted with the project key; control-plane logs kept a year.
  create_kms_key = false
  cluster_encryption_config = {
    resources        = ["secrets"]
    provider_key_arn = aws_kms_key.main.arn
  }
  cluster_enabled_log_types              = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  cloudwatch_log_group_retention_in_days = 365
  cloudwatch_log_group_kms_key_id        = aws_kms_key.main.arn

  enable_cluster_creator_admin_permissions = true

  # The deploy role (ci.tf) acts inside the release's namespace only, with the permissions of
  # Kubernetes' `admin` ClusterRole bound to its group there (kubernetes.tf). Through RBAC, not
  # an EKS access policy: the API server lets a user create or update a Role or RoleBinding only
  # when the user already holds every permission in it through RBAC (or has escalate/bind), and
  # permissions granted by EKS access policies (a webhook authorizer) do not count for that, so
  # with AmazonEKSAdminPolicy alone the chart's Dagster Role could never be installed.
  access_entries = {
    github_deploy = {
      principal_arn     = aws_iam_role.github_deploy.arn
      kubernetes_groups = [local.deployer_group]
    }
  }

  # EKS add-ons at the default version AWS publishes for kubernetes_version (a given cluster
  # version always resolves to the same add-on versions until it is upgraded).
  cluster_addons = {
    coredns                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = {}
    vpc-cni = {
      before_compute = true
      configuration_values = jsonencode({
        # NetworkPolicies of the chart are enforced by the VPC CNI's network policy agent.
        enableNetworkPolicy = "true"
      })
    }
    aws-ebs-csi-driver = {
      service_account_role_arn = module.ebs_csi_irsa.iam_role_arn
    }
    aws-efs-csi-driver = {
      service_account_role_arn = module.efs_csi_irsa.iam_role_arn
    }
  }

  eks_managed_node_group_defaults = {
    ami_type = "AL2023_x86_64_STANDARD"
    # IMDSv2 only, one hop: pods cannot borrow the node's role.
    metadata_options = {
      http_endpoint               = "enabled"
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
    }
    block_device_mappings = {
      root = {
        device_name = "/dev/xvda"
        ebs = {
          volume_size           = 100
          volume_type           = "gp3"
          encrypted             = true
          kms_key_id            = aws_kms_key.main.arn
          delete_on_termination = true
        }
      }
    }
  }

  # The cluster autoscaler (addons.tf) finds both groups by the tags EKS puts on their Auto
  # Scaling groups (k8s.io/cluster-autoscaler/enabled, k8s.io/cluster-autoscaler/<cluster>) and
  # resizes them between min_size and max_size; desired_size only seeds a new group.
  eks_managed_node_groups = merge(
    {
      general = {
        instance_types = var.general_node_instance_types
        min_size       = var.general_node_min_size
        max_size       = var.general_node_max_size
        desired_size   = var.general_node_desired_size
        labels         = local.general_node_labels
      }
    },
    var.enable_gpu_node_group ? {
      # Training runs only: the taint keeps everything else off, the chart's runs.gpu values
      # (node selector and toleration) bring GPU runs on. Zero nodes until a GPU run is pending.
      gpu = {
        ami_type       = "AL2023_x86_64_NVIDIA"
        instance_types = var.gpu_node_instance_types
        min_size       = 0
        max_size       = var.gpu_node_max_size
        desired_size   = 0
        labels         = local.gpu_node_labels
        taints = {
          gpu = {
            key    = local.gpu_taint.key
            value  = local.gpu_taint.value
            effect = "NO_SCHEDULE"
          }
        }
      }
    } : {}
  )
}

# Scaling the GPU group from zero: the template node's labels, taint and GPU count as tags of its
# Auto Scaling group (nodes.tf).
resource "aws_autoscaling_group_tag" "gpu_node_template" {
  for_each = var.enable_gpu_node_group ? local.gpu_autoscaler_template_tags : {}

  autoscaling_group_name = one(module.eks.eks_managed_node_groups["gpu"].node_group_autoscaling_group_names)

  tag {
    key                 = each.key
    value               = each.value
    propagate_at_launch = false
  }
}
