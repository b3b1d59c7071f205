"""ImagesService without root: import records, lookups, list/inspect/history shapes, tag, rmi, prune."""

from __future__ import annotations

import io
import os

import pytest

from berth import errdefs
from berth.daemon.images.service import ImagesService
from tests.unit.images.conftest import Users, make_tar

TAR = make_tar({"hello.txt": b"hi\n"})


def imp(svc: ImagesService, repo: str = "", tag: str = "", data: bytes = TAR, changes: tuple[str, ...] = (),
        message: str = "") -> str:
    return svc.import_image(io.BytesIO(data), repo, tag, list(changes), message)


def test_import_makes_a_docker_image(svc: ImagesService) -> None:
    iid = imp(svc, "busybox", changes=('CMD ["sh"]', "LABEL a=b"))
    out = svc.inspect("busybox")
    assert out["Id"] == iid
    assert out["RepoTags"] == ["busybox:latest"]
    assert out["RepoDigests"] == []
    assert out["Comment"] == "Imported from -"
    assert out["Config"]["Cmd"] == ["sh"]
    assert out["Config"]["Labels"] == {"a": "b"}
    assert out["Os"] == "linux"
    assert out["RootFS"]["Type"] == "layers"
    assert out["RootFS"]["Layers"] == [svc.get(iid).diff_ids[0]]
    assert out["GraphDriver"]["Name"] == "overlay2"
    assert set(out["GraphDriver"]["Data"]) == {"MergedDir", "UpperDir", "WorkDir"}
    assert out["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
    assert set(out) >= {"Parent", "Created", "DockerVersion", "Author", "Architecture", "Size"}
    # the image id is the digest of the stored config
    assert svc.content.has(iid)
    # the layer blob is the uncompressed tar
    assert svc.content.read_bytes(out["RootFS"]["Layers"][0]) == TAR


def test_list_summary_shape(svc: ImagesService) -> None:
    iid = imp(svc, "foo/bar", "v1", changes=("LABEL x=y",))
    [summary] = svc.list()
    assert summary == {
        "Containers": -1, "Created": summary["Created"], "Id": iid, "Labels": {"x": "y"}, "ParentId": "",
        "RepoDigests": [], "RepoTags": ["foo/bar:v1"], "SharedSize": -1, "Size": len(TAR),
    }


def test_import_message_and_gzip_input(svc: ImagesService) -> None:
    import gzip

    iid = imp(svc, data=gzip.compress(TAR[:4000]) + gzip.compress(TAR[4000:]), message="from a file")
    img = svc.get(iid)
    assert img.doc["comment"] == "from a file"
    assert svc.content.read_bytes(img.diff_ids[0]) == TAR
    [row] = svc.history(iid)
    assert row["Comment"] == "from a file"
    assert row["Id"] == iid
    assert row["Tags"] is None
    assert row["Size"] == len(TAR)


def test_get_by_name_id_and_prefix_and_not_found_texts(svc: ImagesService) -> None:
    iid = imp(svc, "busybox")
    hexid = iid.split(":")[1]
    names = ("busybox", "busybox:latest", "docker.io/library/busybox:latest", iid, hexid, hexid[:12],
             hexid[:4])
    for ref in names:
        assert svc.get(ref).id == iid
    with pytest.raises(errdefs.NotFound, match=r"^No such image: nothere:latest$"):
        svc.get("nothere")
    with pytest.raises(errdefs.NotFound, match=r"^No such image: busybox:2$"):
        svc.get("busybox:2")
    with pytest.raises(errdefs.NotFound, match=r"^No such image: sha256:0+$"):
        svc.get("sha256:" + "0" * 64)


def test_same_layer_is_shared_and_tags_move(svc: ImagesService) -> None:
    a = imp(svc, "one")
    b = imp(svc, "two", changes=("CMD true",))
    assert a != b
    committed = [s for s in svc.meta.snapshots() if s.kind == "committed"]
    assert len(committed) == 1
    c = imp(svc, "one", changes=("CMD false",))
    assert svc.get("one").id == c
    dangling = svc.list({"dangling": ["true"]})
    assert [s["Id"] for s in dangling] == [a]
    assert dangling[0]["RepoTags"] == []


def test_list_filters(svc: ImagesService) -> None:
    a = imp(svc, "alpha", changes=("LABEL tier=db",))
    b = imp(svc, "beta", changes=("LABEL tier=web",))
    assert [s["Id"] for s in svc.list({"label": ["tier=web"]})] == [b]
    assert [s["Id"] for s in svc.list({"label": ["tier"]})] == [b, a]
    assert [s["Id"] for s in svc.list({"reference": ["al*"]})] == [a]
    assert [s["Id"] for s in svc.list({"before": ["beta"]})] == [a]
    assert [s["Id"] for s in svc.list({"since": ["alpha"]})] == [b]
    with pytest.raises(errdefs.InvalidParameter, match="invalid filter 'bogus'"):
        svc.list({"bogus": ["1"]})


def test_reference_filter_lists_only_the_matching_tags(svc: ImagesService) -> None:
    image_id = imp(svc, "busybox")
    svc.tag("busybox", "other/thing", "v1")
    svc.tag("busybox", "busybox", "1.36")
    [row] = svc.list({"reference": ["busybox"]})
    assert row["Id"] == image_id
    assert sorted(row["RepoTags"]) == ["busybox:1.36", "busybox:latest"]
    [row] = svc.list({"reference": ["other/*"]})
    assert row["RepoTags"] == ["other/thing:v1"]
    assert svc.list({"reference": ["nothing*"]}) == []
    assert len(svc.list()[0]["RepoTags"]) == 3


def test_tag_and_untag_by_name(svc: ImagesService) -> None:
    iid = imp(svc, "busybox")
    assert svc.tag("busybox", "me/box", "1") == "me/box:1"
    assert sorted(svc.get(iid).repo_tags()) == ["busybox:latest", "me/box:1"]
    assert svc.delete("me/box:1") == [{"Untagged": "me/box:1"}]
    assert svc.get("busybox").id == iid
    with pytest.raises(errdefs.InvalidParameter, match="refusing to create a tag with a digest reference"):
        svc.tag("busybox", "x@sha256:" + "a" * 64)


def test_rmi_last_tag_deletes_image_layer_and_blobs(svc: ImagesService) -> None:
    iid = imp(svc, "busybox")
    diff = svc.get(iid).diff_ids[0]
    records = svc.delete("busybox")
    assert records == [{"Untagged": "busybox:latest"}, {"Deleted": iid}, {"Deleted": diff}]
    assert svc.list() == []
    assert list(svc.content.walk()) == []
    assert svc.meta.snapshots() == []
    assert os.listdir(svc.snapshots.root) == ["l"]


def test_rmi_conflicts_with_containers(svc: ImagesService, users: Users) -> None:
    iid = imp(svc, "busybox")
    short = iid[7:19]
    cid = "c" * 64
    users.by_image[iid] = [cid]
    with pytest.raises(errdefs.Conflict) as exc:
        svc.delete("busybox")
    assert str(exc.value) == (
        f'conflict: unable to remove repository reference "busybox" (must force) - container cccccccccccc '
        f"is using its referenced image {short}"
    )
    with pytest.raises(errdefs.Conflict) as exc:
        svc.delete(short)
    assert str(exc.value) == (
        f"conflict: unable to delete {short} (must be forced) - "
        "image is being used by stopped container cccccccccccc"
    )
    users.running.add(cid)
    with pytest.raises(errdefs.Conflict) as exc:
        svc.delete(short, force=True)
    assert str(exc.value) == (
        f"conflict: unable to delete {short} (cannot be forced) - "
        "image is being used by running container cccccccccccc"
    )
    # force by name while running: untag only, the image stays (dangling)
    assert svc.delete("busybox", force=True) == [{"Untagged": "busybox:latest"}]
    assert svc.get(short).id == iid
    users.running.clear()
    records = svc.delete(short, force=True)
    assert records[0] == {"Deleted": iid}


def test_rmi_by_id_with_tags_in_several_repositories_must_be_forced(svc: ImagesService) -> None:
    iid = imp(svc, "one")
    svc.tag("one", "two")
    short = iid[7:19]
    multiple = r"\(must be forced\) - image is referenced in multiple repositories"
    with pytest.raises(errdefs.Conflict, match=multiple):
        svc.delete(short)
    records = svc.delete(short, force=True)
    assert {"Untagged": "one:latest"} in records
    assert {"Untagged": "two:latest"} in records
    assert {"Deleted": iid} in records


def test_prune_dangling_and_all(svc: ImagesService, users: Users) -> None:
    old = imp(svc, "app")
    new = imp(svc, "app", changes=("CMD x",))
    kept_by_container = imp(svc, "used", changes=("CMD y",))
    users.by_image[kept_by_container] = ["d" * 64]
    report = svc.prune()
    assert report["ImagesDeleted"] == [{"Deleted": old}]
    assert report["SpaceReclaimed"] == 0  # the layer is still used by `app`
    report = svc.prune({"dangling": ["false"]})
    assert {"Untagged": "app:latest"} in report["ImagesDeleted"]
    assert {"Deleted": new} in report["ImagesDeleted"]
    assert report["SpaceReclaimed"] == 0  # `used` keeps the shared layer
    assert [s["Id"] for s in svc.list()] == [kept_by_container]
    assert svc.prune() == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_failed_import_leaves_nothing(svc: ImagesService) -> None:
    with pytest.raises(errdefs.InvalidParameter):
        imp(svc, "x", changes=("RUN rm -rf /",))
    with pytest.raises(errdefs.InvalidParameter):
        imp(svc, "Bad_Name")
    assert svc.list() == []
    assert list(svc.content.walk()) == []
    assert os.listdir(svc.content.ingest_dir) == []
    assert svc.meta.snapshots() == []


def test_failed_import_after_unpack_rolls_back(svc: ImagesService, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(svc, "_store_image", boom)
    with pytest.raises(OSError, match="disk full"):
        imp(svc, "x")
    assert list(svc.content.walk()) == []
    assert svc.meta.snapshots() == []
    assert sorted(os.listdir(svc.snapshots.root)) == ["l"]
    assert os.listdir(svc.snapshots.links) == []


def test_container_rootfs_snapshot_lifecycle(svc: ImagesService) -> None:
    iid = imp(svc, "busybox")
    m1 = svc.rootfs_mount("c1", iid)
    assert svc.rootfs_mount("c1", iid) == m1
    assert m1["type"] == "overlay"
    opts = dict(o.split("=", 1) for o in m1["options"])
    assert set(opts) - {"index"} == {"lowerdir", "upperdir", "workdir"}
    assert os.path.realpath(opts["lowerdir"]) == svc.snapshots.lower_dirs(svc.get(iid).record.chain_id)[0]
    dirs = svc.layer_dirs("c1", iid)
    assert dirs[0] == opts["upperdir"]
    assert len(dirs) == 2
    # a forced rmi while the container exists keeps the layer until the container releases it
    svc.delete("busybox", force=True)
    assert len(svc.meta.snapshots()) == 2
    svc.release_rootfs("c1")
    svc.release_rootfs("c1")
    assert svc.meta.snapshots() == []


def test_garbage_left_by_a_crash_is_collected(svc: ImagesService) -> None:
    from berth.daemon.images.remove import collect_garbage
    from berth.oci import digest as dg

    keep = imp(svc, "kept")
    # a layer and a blob whose image record was never written (crash between the steps)
    layer = svc.snapshots.apply_layer(None, io.BytesIO(make_tar({"orphan": b"o"})))
    stray = svc.content.ingest_bytes(b"stray blob")
    layers, blobs = collect_garbage(svc)
    assert layers == [layer.chain_id]
    assert blobs == [stray]
    assert svc.get("kept").id == keep
    assert svc.content.has(keep)
    assert svc.content.has(svc.get(keep).diff_ids[0])
    assert dg.is_digest(stray)
