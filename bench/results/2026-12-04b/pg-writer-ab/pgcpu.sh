#!/bin/bash
# prints total CPU seconds (utime+stime, incl. exited children not counted) of postgres processes
tot=0; for p in $(pgrep -x postgres); do s=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null); tot=$((tot + ${s:-0})); done; echo $tot
