from azof.storage import open_storage


def test_smoke(s3_lake, s3_storage_options):
    s = open_storage(s3_lake, s3_storage_options)
    s.write("a/b", b"x")
    assert s.read("a/b") == b"x"
