# Process control and attributes (the C part is api_process.c).


def _version_info(v):
    # uWSGI's (base, major, minor, revision, custom): (2, 0, 21, 0, b'uwsgo')
    text, _, custom = v.decode().partition("-")
    nums = [int(x) for x in text.split(".")] + [0, 0, 0, 0]
    return (nums[0], nums[1], nums[2], nums[3], custom.encode())


version_info = _version_info(version)
hostname = __import__("os").uname().nodename.encode()
del _version_info
