#!/usr/bin/env bash
# volumes.sh N: N PersistentVolumes for the simulated cluster, as a YAML stream on stdout.
# kwok runs no storage driver, so without them every PVC stays Pending and every StatefulSet
# with a volume claim never schedules. No StorageClass: a claim without one binds to these
# class-less volumes. Nothing is ever written to them (no container runs).
set -euo pipefail
for i in $(seq 1 "$1"); do
  cat <<YAML
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: simulated-$i
  labels: {app.kubernetes.io/managed-by: event-platform-cluster}
spec:
  capacity: {storage: 1Ti}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /nonexistent/simulated-$i}
YAML
done
