import os
import sys

import requests

url, env_name = sys.argv[1], sys.argv[2]
value = os.environ.get(env_name, "")
print(f"client-saw {env_name}={value}", flush=True)
res = requests.get(url, headers={"Authorization": f"Bearer {value}"}, timeout=20)
print(f"status {res.status_code}")
print(f"body {res.text.splitlines()[0]}")
