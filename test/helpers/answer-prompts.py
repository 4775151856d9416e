"""Runs a shell block with a terminal on stdin and answers its login prompts, as a person at the keyboard would.

podman/skopeo/docker login read the password from a terminal only, so a README block that "asks for username and
password" cannot be fed through a pipe. Only stdin is the terminal, never a controlling one: bash leads a process
group of its own but not a session (a session leader with a terminal on stdin takes its background jobs down with
it when it exits), so background jobs of the block outlive it and the caller stops them by group.

usage: answer-prompts.py LOG SCRIPT USERNAME PASSWORD
  All output of the block goes to LOG. "Username: " is answered with USERNAME, "Password: " with PASSWORD, or,
  when PASSWORD is empty, with the last "password: X" line the block printed (quayside's generated password).
  Prints bash's pid first (the process group to stop), exits with the block's status.
"""
import os
import re
import subprocess
import sys
import time

log_path, script, username, password = sys.argv[1:5]
master, slave = os.openpty()
with open(log_path, 'wb') as log:
    block = subprocess.Popen(['bash', '-euo', 'pipefail', '-c', script], stdin=slave, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: os.setpgid(0, 0))
print(block.pid, flush=True)
os.close(slave)
answered = {'Username: ': 0, 'Password: ': 0}
while True:
    with open(log_path, 'rb') as log:
        text = log.read().decode('utf-8', 'replace')
    for prompt in answered:
        if text.count(prompt) > answered[prompt]:
            answered[prompt] += 1
            if prompt == 'Username: ':
                answer = username
            elif password:
                answer = password
            else:
                generated = re.findall(r'^password: (\S+)$', text, re.M)
                answer = generated[-1] if generated else ''
            os.write(master, (answer + '\n').encode())
    if block.poll() is not None:
        sys.exit(block.returncode)
    time.sleep(0.05)
