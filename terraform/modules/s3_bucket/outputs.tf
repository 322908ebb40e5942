# The configured name, known when Terraform plans (the resource's id is known only after
# apply): another bucket's access_log_bucket decides a count with it.
output "bucket_id" {
  description = "Name of the bucket."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}
