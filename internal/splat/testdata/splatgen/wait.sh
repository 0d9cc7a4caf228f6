#!/bin/sh
# Keeps the guest up while a detector (hung task) gets to its report.
sleep 12
