# Cluster add-ons the chart depends on, as Helm releases pinned to exact chart versions:
#   - AWS Load Balancer Controller: turns the chart's Ingresses (className alb) into ALBs;
#   - metrics-server: the resource metrics the API's HorizontalPodAutoscaler scales on;
#   - cluster autoscaler: adds general nodes for pending run pods, scales the GPU group from zero;
#   - NVIDIA device plugin (with the GPU group): advertises nvidia.com/gpu on the GPU nodes.
# The EBS and EFS CSI drivers are EKS add-ons (eks.tf); their StorageClasses are in kubernetes.tf.
# Chart repositories are fetched by `terraform apply`, not by the offline tests.

locals {
  load_balancer_controller_service_account = "aws-load-balancer-controller"
  cluster_autoscaler_service_account       = "cluster-autoscaler"

  # Add-on pods stay off the GPU nodes (their taint) and run on the general group.
  general_node_selector = local.general_node_labels
}

module "load_balancer_controller_irsa" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  # The policy of the controller's docs/install/iam_policy.json (v2.14 - v3.5).
  role_name                              = "${local.name}-aws-load-balancer-controller"
  attach_load_balancer_controller_policy = true

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:${local.load_balancer_controller_service_account}"]
    }
  }
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = "3.5.0"
  atomic     = true

  values = [yamlencode({
    clusterName  = module.eks.cluster_name
    region       = var.region
    vpcId        = module.vpc.vpc_id
    replicaCount = 2
    serviceAccount = {
      create = true
      name   = local.load_balancer_controller_service_account
      annotations = {
        "eks.amazonaws.com/role-arn" = module.load_balancer_controller_irsa.iam_role_arn
      }
    }
    # Only the chart's Ingresses: Services of type LoadBalancer keep their own controller.
    enableServiceMutatorWebhook = false
    nodeSelector                = local.general_node_selector
  })]

  depends_on = [module.eks]
}

resource "helm_release" "metrics_server" {
  name       = "metrics-server"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/metrics-server/"
  chart      = "metrics-server"
  version    = "3.13.1"
  atomic     = true

  values = [yamlencode({
    replicas            = 2
    podDisruptionBudget = { enabled = true, minAvailable = 1 }
    nodeSelector        = local.general_node_selector
  })]

  depends_on = [module.eks]
}

module "cluster_autoscaler_irsa" {
  #checkov:skip=CKV_TF_1:Registry modules are pinned to an exact released version; commit hashes apply to git sources
  source  = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts-eks"
  version = "5.60.0"

  # Describe calls, plus SetDesiredCapacity / TerminateInstanceInAutoScalingGroup on this
  # cluster's Auto Scaling groups only (tag kubernetes.io/cluster/<name> = owned).
  role_name                        = "${local.name}-cluster-autoscaler"
  attach_cluster_autoscaler_policy = true
  cluster_autoscaler_cluster_names = [module.eks.cluster_name]

  oidc_providers = {
    main = {
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:${local.cluster_autoscaler_service_account}"]
    }
  }
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  namespace  = "kube-system"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = "9.59.0"
  atomic     = true

  values = [yamlencode({
    cloudProvider = "aws"
    awsRegion     = var.region
    autoDiscovery = { clusterName = module.eks.cluster_name }
    # The autoscaler's minor version must be the cluster's.
    image = { tag = var.cluster_autoscaler_image_tag }
    rbac = {
      serviceAccount = {
        name        = local.cluster_autoscaler_service_account
        annotations = { "eks.amazonaws.com/role-arn" = module.cluster_autoscaler_irsa.iam_role_arn }
      }
    }
    extraArgs = {
      # The cheapest fit for the pending pods; zones kept even for the general group.
      expander                      = "least-waste"
      balance-similar-node-groups   = true
      skip-nodes-with-system-pods   = false
      skip-nodes-with-local-storage = false
      # A finished run's node is given back after 10 minutes without work.
      scale-down-unneeded-time = "10m"
    }
    nodeSelector = local.general_node_selector
  })]

  depends_on = [module.eks]
}

resource "helm_release" "nvidia_device_plugin" {
  count = var.enable_gpu_node_group ? 1 : 0

  name       = "nvidia-device-plugin"
  namespace  = "kube-system"
  repository = "https://nvidia.github.io/k8s-device-plugin"
  chart      = "nvidia-device-plugin"
  version    = "0.19.3"
  atomic     = true

  # The chart's own affinity admits nodes labelled nvidia.com/gpu.present=true (the GPU group's
  # label, eks.tf) and its tolerations include the nvidia.com/gpu taint; the selector keeps it on
  # that group.
  values = [yamlencode({
    nodeSelector = { "stockops.io/node-pool" = local.gpu_node_labels["stockops.io/node-pool"] }
  })]

  depends_on = [module.eks]
}
