"""Sample manifests and helpers shared by the spec tests."""

from __future__ import annotations

import textwrap

from miniorch.spec import errors, loader

PI_JOB = textwrap.dedent(
    """\
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: pi
    spec:
      template:
        spec:
          containers:
          - name: pi
            image: perl:5.34.0
            command: ["perl",  "-Mbignum=bpi", "-wle", "print bpi(2000)"]
          restartPolicy: Never
      backoffLimit: 4
    """
)

HELLO_CRONJOB = textwrap.dedent(
    """\
    apiVersion: batch/v1beta1
    kind: CronJob
    metadata:
      name: hello
    spec:
      schedule: "*/1 * * * *"
      jobTemplate:
        spec:
          template:
            spec:
              containers:
              - name: hello
                image: busybox
                args:
                - /bin/sh
                - -c
                - date; echo Hello from the Kubernetes cluster
              restartPolicy: OnFailure
    """
)

AGENT_DAEMONSET = textwrap.dedent(
    """\
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: disk-monitor
      namespace: ops
    spec:
      selector:
        matchLabels:
          app: disk-monitor
      template:
        metadata:
          labels:
            app: disk-monitor
        spec:
          nodeSelector:
            disk: nvme
          containers:
          - name: monitor
            image: busybox:1.36
            volumeMounts:
            - name: dev
              mountPath: /host/dev
              readOnly: true
          volumes:
          - name: dev
            hostPath:
              path: /dev
    """
)


def errors_of(text: str, source: str = "test.yaml") -> list[errors.ManifestError]:
    """The errors that loading `text` raises (fails the test if it loads)."""
    try:
        loader.load_text(text, source)
    except errors.ManifestInvalid as exc:
        return exc.errors
    raise AssertionError("the manifest loaded without errors")


def one_error(text: str) -> errors.ManifestError:
    """The single error of `text`."""
    found = errors_of(text)
    assert len(found) == 1, [str(e) for e in found]
    return found[0]


def edit(text: str, old: str, new: str) -> str:
    """`text` with `old` (which must occur once) replaced by `new`."""
    assert text.count(old) == 1, old
    return text.replace(old, new)
