# Node pools: labels, taints and the cluster autoscaler's scale-from-zero template, shared by the
# node groups (eks.tf), the add-ons (addons.tf) and the chart's runs.gpu values. No resources or
# data sources here, so tests evaluate these values with `terraform console`.

locals {
  general_node_labels = {
    "stockops.io/node-pool" = "general"
  }
  gpu_node_labels = {
    "stockops.io/node-pool" = "gpu"
    # The NVIDIA device plugin's DaemonSet schedules onto nodes with this label (no node feature
    # discovery needed).
    "nvidia.com/gpu.present" = "true"
  }
  gpu_taint = { key = "nvidia.com/gpu", value = "true", effect = "NoSchedule" }

  # Scaling from zero: with no node to look at, the cluster autoscaler builds a template node
  # from these Auto Scaling group tags (labels, taint, GPU count), so a pending GPU run pod that
  # selects stockops.io/node-pool=gpu, tolerates the taint and asks for nvidia.com/gpu fits it.
  # Managed node groups do not copy their labels and taints to the Auto Scaling group.
  gpu_autoscaler_template_tags = merge(
    { for key, value in local.gpu_node_labels : "k8s.io/cluster-autoscaler/node-template/label/${key}" => value },
    {
      "k8s.io/cluster-autoscaler/node-template/taint/${local.gpu_taint.key}" = "${local.gpu_taint.value}:${local.gpu_taint.effect}"
      "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"     = tostring(var.gpu_node_gpus_per_instance)
      "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage"  = "100G"
    },
  )
}
