import os
import sys
import urllib.request

url, env_name = sys.argv[1], sys.argv[2]
value = os.environ.get(env_name, "")
print(f"client-saw {env_name}={value}", flush=True)
req = urllib.request.Request(url, headers={"Authorization": f"Bearer {value}"})
with urllib.request.urlopen(req, timeout=20) as res:
    print(f"status {res.status}")
    print(f"body {res.read().decode().splitlines()[0]}")
