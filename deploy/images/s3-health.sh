#!/bin/sh
# Healthy when radosgw answers a signed HEAD of the bucket: the user and the bucket exist.
# (curl 7.88 signs with SigV4 but sends no payload hash, which S3 requires: we send it.)
exec curl -sf -m 5 -o /dev/null -I --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$S3_PORT/$S3_BUCKET"
