// Kernel UAPI numbers used by the codec (linux/netlink.h, rtnetlink.h, nexthop.h, if_addr.h, if_link.h).
// Spelled out here rather than imported so the codec compiles without the C target (fuzzing);
// `ConstantsTests` checks a few against CNetlink.

enum AF {
    static let unspec: UInt8 = 0
    static let inet: UInt8 = 2
    static let inet6: UInt8 = 10
}

enum NLMsgType {
    static let noop: UInt16 = 1
    static let error: UInt16 = 2
    static let done: UInt16 = 3
    static let overrun: UInt16 = 4
}

enum NLMFlag {
    static let request: UInt16 = 0x1
    static let multi: UInt16 = 0x2
    static let ack: UInt16 = 0x4
    static let echo: UInt16 = 0x8
    static let dumpIntr: UInt16 = 0x10
    static let dumpFiltered: UInt16 = 0x20
    // GET requests
    static let root: UInt16 = 0x100
    static let match: UInt16 = 0x200
    static let dump: UInt16 = 0x300
    // NEW requests
    static let replace: UInt16 = 0x100
    static let excl: UInt16 = 0x200
    static let create: UInt16 = 0x400
    static let append: UInt16 = 0x800
    // ACK messages
    static let capped: UInt16 = 0x100
    static let ackTLVs: UInt16 = 0x200
}

enum NLMsgErrAttr {
    static let msg: UInt16 = 1
    static let offset: UInt16 = 2
    static let cookie: UInt16 = 3
}

enum RTM {
    static let newLink: UInt16 = 16
    static let delLink: UInt16 = 17
    static let getLink: UInt16 = 18
    static let newAddr: UInt16 = 20
    static let delAddr: UInt16 = 21
    static let getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24
    static let delRoute: UInt16 = 25
    static let getRoute: UInt16 = 26
    static let newNexthop: UInt16 = 104
    static let delNexthop: UInt16 = 105
    static let getNexthop: UInt16 = 106
}

enum RTA {
    static let dst: UInt16 = 1
    static let src: UInt16 = 2
    static let iif: UInt16 = 3
    static let oif: UInt16 = 4
    static let gateway: UInt16 = 5
    static let priority: UInt16 = 6
    static let prefsrc: UInt16 = 7
    static let metrics: UInt16 = 8
    static let multipath: UInt16 = 9
    static let table: UInt16 = 15
    static let via: UInt16 = 18
    static let nhID: UInt16 = 30
}

enum RTN {
    static let unspec: UInt8 = 0
    static let unicast: UInt8 = 1
}

enum RTScope {
    static let universe: UInt8 = 0
    static let nowhere: UInt8 = 255
}

/// `rtm_flags` bits.
enum RTMFlag {
    static let cloned: UInt32 = 0x200
}

enum NHA {
    static let id: UInt16 = 1
    static let group: UInt16 = 2
    static let groupType: UInt16 = 3
    static let blackhole: UInt16 = 4
    static let oif: UInt16 = 5
    static let gateway: UInt16 = 6
    /// Dump filter (flag): group nexthops only.
    static let groups: UInt16 = 9
}

enum IFA {
    static let address: UInt16 = 1
    static let local: UInt16 = 2
    static let label: UInt16 = 3
}

enum IFLA {
    static let ifname: UInt16 = 3
}

/// Multicast groups (`RTNLGRP_*`), numbered as `NETLINK_ADD_MEMBERSHIP` expects.
enum RTNLGroup {
    static let ipv4Route: UInt32 = 7
    static let ipv6Route: UInt32 = 11
    static let nexthop: UInt32 = 32
}

/// Sizes of the fixed family headers that follow `nlmsghdr`.
enum HeaderSize {
    static let rtmsg = 12
    static let nhmsg = 8
    static let ifaddrmsg = 8
    static let ifinfomsg = 16
    static let nlmsgerr = 20   // int error + struct nlmsghdr
}
