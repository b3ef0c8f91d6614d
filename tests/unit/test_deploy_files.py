"""The deployment files point at what exists (no Docker here to build them: see docs/deploy.md)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_copies_existing_paths_and_runs_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    sources = [line.split()[1:-1] for line in dockerfile.splitlines() if line.startswith("COPY")]
    for source in (s for group in sources for s in group):
        assert (ROOT / source).exists(), source
    assert re.search(r"^USER livebuy$", dockerfile, re.MULTILINE)
    assert "livebuy db upgrade && exec livebuy run" in dockerfile


def test_compose_has_postgres_two_workers_and_the_proxy_config() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    for service in ("db:", "worker1:", "worker2:", "proxy:"):
        assert f"\n  {service}" in compose
    assert (ROOT / "deploy" / "Caddyfile").exists()
    assert "reverse_proxy worker1:8080 worker2:8080" in (ROOT / "deploy" / "Caddyfile").read_text()
    # Product pictures uploaded through one worker are served by every worker.
    assert "worker2: *worker" in compose
    assert "LIVEBUY_MEDIA_DIR: /var/lib/livebuy/media" in compose
    assert "volumes: [media:/var/lib/livebuy/media]" in compose and "\n  media:" in compose
    assert "chown -R livebuy /var/lib/livebuy" in (ROOT / "Dockerfile").read_text()
