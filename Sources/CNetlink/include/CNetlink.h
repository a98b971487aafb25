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
#include <sched.h>
#include <sys/eventfd.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

// setns(2) and CLONE_NEWNET are only declared under _GNU_SOURCE, which the Glibc module is not built with.
extern int setns(int fd, int nstype);
#define CNETLINK_CLONE_NEWNET 0x40000000
static inline int cnetlink_setns_net(int fd) { return setns(fd, CNETLINK_CLONE_NEWNET); }

#endif
