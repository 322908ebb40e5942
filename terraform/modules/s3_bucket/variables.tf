variable "name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for default encryption (SSE-KMS with a bucket key); null: SSE-S3 (AES256), which a bucket receiving S3 server access logs needs."
  type        = string
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's server access logs; null for the log bucket itself."
  type        = string
  default     = null
}

variable "allow_log_delivery" {
  description = "Let the S3 logging service write into this bucket (set on the access-log bucket)."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days before overwritten or deleted object versions are removed."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
