// The Linux UAPI headers for rtnetlink, exposed to Swift.
// Glibc's module map does not carry them; this target adds nothing but the kernel's own definitions
// and a few function-like macros that Swift cannot import.
#ifndef C_NETLINK_H
#define C_NETLINK_H

#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/nexthop.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <sys/eventfd.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

/// setns(fd, CLONE_NEWNET) for the calling thread (declared here because Glibc hides setns without _GNU_SOURCE).
int cnetlink_setns_net(int fd);

#endif
