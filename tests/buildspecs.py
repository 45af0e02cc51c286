#!/usr/bin/env python3
"""Runs every services/*/buildspec.yml the way CodeBuild does (bash, one shell for all commands,
a failing command fails the build and skips the phases after it), against stand-ins for `aws` and
`docker` that record their calls, and checks the CodeBuild contract deltaship relies on:

- the image is tagged IMAGE_TAG (else DELTASHIP_COMMIT, else the checked-out commit) and pushed
  to IMAGE_REPOSITORY, a name in the build's account and region or a full URI;
- a tag that exists already is neither built nor pushed, and the build succeeds (tags are
  immutable, and deltaship may re-run a commit);
- IMAGE_URI (<repository URI>:<tag>) and IMAGE_DIGEST (what ECR says the tag names) are
  exported;
- errors other than "image not found" fail the build.

Needs PyYAML (cfn-lint brings it). Usage: python3 tests/buildspecs.py (from anywhere).
"""

import os
import pathlib
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ACCOUNT, REGION = "444455556666", "eu-west-1"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "0123456789abcdef" * 4

AWS_STUB = r"""#!/bin/bash
echo "aws $*" >> "$CALLS"
case "$1 $2" in
  "ecr get-login-password") echo password ;;
  "ecr describe-images")
    seen=$(grep -c "describe-images" "$CALLS")
    if [[ "$*" == *"--query imageDetails[0].imageDigest"* ]]; then
      case "$ECR_STATE" in
        no-digest) echo None ;;
        *) echo "$DIGEST" ;;
      esac
      exit 0
    fi
    case "$ECR_STATE" in
      exists) echo '{"imageDetails": [{}]}' ;;
      pushed-meanwhile) if (( seen > 1 )); then echo '{"imageDetails": [{}]}'; else
        echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: no such image" >&2; exit 254; fi ;;
      denied) echo "An error occurred (AccessDeniedException) when calling the DescribeImages operation: denied" >&2; exit 254 ;;
      *) echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: no such image" >&2; exit 254 ;;
    esac ;;
  *) echo "unexpected aws call: $*" >&2; exit 1 ;;
esac
"""

DOCKER_STUB = r"""#!/bin/bash
echo "docker $*" >> "$CALLS"
case "$1" in
  login) read -r password; [[ -n "$password" ]] ;;
  build) [[ "$ECR_STATE" != build-fails ]] ;;
  push) [[ "$ECR_STATE" != pushed-meanwhile && "$ECR_STATE" != push-fails ]] ;;
  *) echo "unexpected docker call: $*" >&2; exit 1 ;;
esac
"""


def script(spec):
    """The buildspec's phases as one bash script, failing at the first failing command."""
    lines = ["cd \"$SOURCE_DIR\""]
    for name, value in spec["env"].get("variables", {}).items():
        lines.append(f"export {name}='{value}'")
    for phase in ("install", "pre_build", "build", "post_build"):
        for index, command in enumerate(spec.get("phases", {}).get(phase, {}).get("commands", [])):
            lines.append("{ " + command.rstrip("\n") + f"\n}} || {{ echo 'FAILED: {phase}[{index}]' >&2; exit 1; }}")
    lines.append('echo "EXPORTED IMAGE_URI=${IMAGE_URI:-}"')
    lines.append('echo "EXPORTED IMAGE_DIGEST=${IMAGE_DIGEST:-}"')
    return "\n".join(lines) + "\n"


def run(buildspec, workdir, ecr_state, **variables):
    calls = workdir / "calls"
    calls.write_text("")
    env = {
        "PATH": f"{workdir / 'bin'}:/usr/bin:/bin",
        "CALLS": str(calls),
        "ECR_STATE": ecr_state,
        "SOURCE_DIR": str(ROOT),
        "AWS_REGION": REGION,
        "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:build/project:1234",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": COMMIT,
        "DIGEST": DIGEST,
        **variables,
    }
    done = subprocess.run(["bash", "-c", script(buildspec)], env=env, capture_output=True, text=True, check=False)
    exported = [line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("EXPORTED IMAGE_URI=")]
    digests = [line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("EXPORTED IMAGE_DIGEST=")]
    run.digest = (digests or [""])[0]
    return done.returncode, (exported or [""])[0], calls.read_text().splitlines(), done.stdout + done.stderr


def check(path, workdir):
    spec = yaml.safe_load(path.read_text())
    name = path.parent.name
    problems = []

    def expect(condition, what, output=""):
        if not condition:
            problems.append(f"{path.relative_to(ROOT)}: {what}\n{output}")

    expect(str(spec.get("version")) == "0.2", "version must be 0.2")
    expect(spec["env"].get("shell") == "bash", "env.shell must be bash")
    expect("IMAGE_URI" in spec["env"].get("exported-variables", []), "IMAGE_URI must be exported")
    expect("IMAGE_DIGEST" in spec["env"].get("exported-variables", []), "IMAGE_DIGEST must be exported")

    here = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    tag = "f" * 40
    code, uri, calls, out = run(spec, workdir, "missing", IMAGE_REPOSITORY=f"sample/{name}", IMAGE_TAG=tag)
    expect(code == 0, "a new image: the build succeeds", out)
    expect(uri == f"{here}/sample/{name}:{tag}", f"a new image: IMAGE_URI is {uri!r}", out)
    expect(run.digest == DIGEST, f"a new image: IMAGE_DIGEST is {run.digest!r}", out)
    expect(f"docker login --username AWS --password-stdin {here}" in calls, "logs in to this account's registry", out)
    expect(
        any(c.startswith(f"docker build --pull -f services/{name}/Dockerfile -t {here}/sample/{name}:{tag} ") and c.endswith(" .")
            for c in calls),
        "builds the service's Dockerfile from the repository root", "\n".join(calls))
    expect(f"docker push {here}/sample/{name}:{tag}" in calls, "pushes the tag", "\n".join(calls))

    code, uri, calls, out = run(spec, workdir, "exists", IMAGE_REPOSITORY=f"sample/{name}", IMAGE_TAG=tag)
    expect(code == 0 and uri == f"{here}/sample/{name}:{tag}", "an existing tag: success with IMAGE_URI", out)
    expect(run.digest == DIGEST, "an existing tag: its IMAGE_DIGEST", out)
    expect(not any(c.startswith(("docker build", "docker push")) for c in calls), "an existing tag: no build, no push",
           "\n".join(calls))

    other = "111122223333.dkr.ecr.us-east-2.amazonaws.com"
    code, uri, calls, out = run(spec, workdir, "missing", IMAGE_REPOSITORY=f"{other}/team/{name}", IMAGE_TAG=tag)
    expect(code == 0 and uri == f"{other}/team/{name}:{tag}", "a repository URI is used as it is", out)
    expect(any("--registry-id 111122223333 --region us-east-2 --repository-name team/" in c for c in calls),
           "a repository URI's registry and region are used", "\n".join(calls))

    china = f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn"
    code, uri, calls, out = run(
        spec, workdir, "missing", IMAGE_REPOSITORY=f"sample/{name}", IMAGE_TAG=tag, AWS_REGION="cn-north-1",
        CODEBUILD_BUILD_ARN=f"arn:aws-cn:codebuild:cn-north-1:{ACCOUNT}:build/project:1234")
    expect(code == 0 and uri == f"{china}/sample/{name}:{tag}", f"in China the registry is {china}: {uri!r}", out)
    expect(any("--region cn-north-1" in c for c in calls), "China's registry region is used", "\n".join(calls))

    code, uri, _, out = run(spec, workdir, "missing", IMAGE_REPOSITORY=f"sample/{name}", DELTASHIP_COMMIT="1" * 40)
    expect(code == 0 and uri.endswith(":" + "1" * 40), "without IMAGE_TAG, the tag is DELTASHIP_COMMIT", out)
    code, uri, _, out = run(spec, workdir, "missing", IMAGE_REPOSITORY=f"sample/{name}")
    expect(code == 0 and uri.endswith(":" + COMMIT), "without either, the tag is the checked-out commit", out)

    code, _, _, out = run(spec, workdir, "pushed-meanwhile", IMAGE_REPOSITORY=f"sample/{name}", IMAGE_TAG=tag)
    expect(code == 0, "a push refused because another build pushed the tag meanwhile is success", out)

    for state, variables, what in [
        ("denied", {"IMAGE_REPOSITORY": f"sample/{name}", "IMAGE_TAG": tag}, "describe-images denied"),
        ("build-fails", {"IMAGE_REPOSITORY": f"sample/{name}", "IMAGE_TAG": tag}, "docker build fails"),
        ("push-fails", {"IMAGE_REPOSITORY": f"sample/{name}", "IMAGE_TAG": tag}, "docker push fails"),
        ("no-digest", {"IMAGE_REPOSITORY": f"sample/{name}", "IMAGE_TAG": tag}, "ECR gives no digest"),
        ("missing", {"IMAGE_TAG": tag}, "no IMAGE_REPOSITORY"),
        ("missing", {"IMAGE_REPOSITORY": f"sample/{name}", "IMAGE_TAG": "not/a/tag"}, "an invalid tag"),
    ]:
        code, _, _, out = run(spec, workdir, state, **variables)
        expect(code != 0, f"{what}: the build fails", out)
    return problems


def main():
    buildspecs = sorted(ROOT.glob("services/*/buildspec.yml"))
    if not buildspecs:
        print("no services/*/buildspec.yml found", file=sys.stderr)
        return 1
    problems = []
    with tempfile.TemporaryDirectory() as temp:
        workdir = pathlib.Path(temp)
        (workdir / "bin").mkdir()
        for name, text in (("aws", AWS_STUB), ("docker", DOCKER_STUB)):
            stub = workdir / "bin" / name
            stub.write_text(text)
            os.chmod(stub, 0o755)
        for path in buildspecs:
            found = check(path, workdir)
            print(f"{path.relative_to(ROOT)}: {'ok' if not found else f'{len(found)} problem(s)'}")
            problems.extend(found)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
