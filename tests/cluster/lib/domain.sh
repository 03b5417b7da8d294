# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# The bench's domains: domain_xml is the one place their libvirt XML is
# written; everything that defines a domain on a bench node goes through it
# (cluster_define_domain, make_domain, guest_define in guest.sh, the
# benchmarks).  Also the disks: precreating one, its virtual size, the
# checksum of its content.  Sourced by cluster.sh (it needs cluster_run and
# _cluster_node_dir from there).
#
#   domain_xml DOM [--type kvm|qemu] [--mem MiB] [--disk FILE] [--disk-format qcow2|raw]
#              [--disk2 FILE] [--cache MODE]
#              [--bridge BR] [--kernel FILE --initrd FILE --cmdline TEXT] [--console-file FILE]
#       Prints the XML of DOM: 1 vCPU, --mem MiB of RAM (default 128), type kvm
#       (default) or qemu (TCG), the disk FILE (default
#       /var/lib/libvirt/images/DOM.qcow2, format qcow2) on virtio, no network
#       unless --bridge attaches one virtio interface to that bridge of the node,
#       no balloon.  --disk2 adds a second disk (vdb, same format); --cache
#       sets the disks' cache mode (none: what libvirt wants for a live
#       migration that leaves a disk on shared storage).  Without --kernel it has no OS: it boots from its (empty)
#       disk, and as SeaBIOS resets a machine with nothing to boot every minute,
#       a reboot restarts it.  With --kernel, --initrd and --cmdline it boots
#       that Linux directly, and a reboot destroys it (a reboot there is a
#       panic: the test must see it).  The serial console is a pty, or the file
#       --console-file (appended to, so the file of each node the domain ever
#       ran on grows).
#
#   cluster_define_domain NODE DOM [--running | --shut-off] [--type kvm|qemu] [--mem MiB]
#              [--disk-mib N] [--disk-format qcow2|raw] [--disk-data-mib N] [--disk FILE]
#              [domain_xml's --bridge, --kernel, --initrd, --cmdline, --console-file,
#              --disk2 (an existing file), --cache]
#       Creates DOM's disk on NODE (--disk-mib MiB, default 64, format
#       --disk-format, default qcow2), with --disk-data-mib MiB of random data
#       written into it (default none), or takes the existing file --disk
#       instead; defines DOM from domain_xml (its XML is kept in the node's
#       state folder as DOM.xml) and, with --running, starts it.  The type is
#       kvm when the node's libvirt can run KVM, qemu otherwise
#       ($CLUSTER_DOMAIN_TYPE or --type override).  Later options win
#       (--shut-off undoes --running).  Prints the disk's path.
#
#   make_domain NODE DOM DATA_MIB [cluster_define_domain OPTION...]
#       The tests' usual domain: running, no OS, a 128 MiB qcow2 disk holding
#       DATA_MIB of random data (e.g. `make_domain A vm2 8 --disk-mib 1024
#       --shut-off`).  Prints nothing.
#
#   cluster_precreate_disk NODE PATH SIZE FORMAT
#       An empty disk on NODE, e.g. the destination of --copy-storage-all
#       (libvirt precreates only volumes of storage pools).
#   cluster_disk_vsize NODE PATH
#       The disk's virtual size in bytes (works on a disk in use).
#   content_sum NODE QCOW2
#       sha256 of the guest-visible content of a qcow2 disk, readable while
#       its domain runs; fails, printing nothing, when it cannot be read.
#   same_content NODE QCOW2 SUM
#       The disk's content_sum is SUM.

DOMAIN_IMAGES=/var/lib/libvirt/images

# Domain type for a node: kvm when its libvirt reports a usable /dev/kvm,
# otherwise qemu (TCG).  CLUSTER_DOMAIN_TYPE overrides.
_cluster_domain_type() {
    local caps
    if [ -n "${CLUSTER_DOMAIN_TYPE:-}" ]; then
        echo "$CLUSTER_DOMAIN_TYPE"
        return 0
    fi
    # captured, not piped into grep -q: under pipefail an early grep exit
    # would SIGPIPE virsh and turn a match into a failure
    caps=$(cluster_run "$1" virsh -c qemu:///system capabilities 2>/dev/null) || caps=
    case $caps in
    *"<domain type='kvm'"*) echo kvm ;;
    *) echo qemu ;;
    esac
}

domain_xml() {
    local dom=${1-} type=kvm mem=128 disk='' format=qcow2 nic='' kernel='' initrd='' cmdline='' console=''
    local os on_reboot=restart serial disk2='' cache='' driver disks
    shift || { _cluster_err "usage: domain_xml DOM [OPTION...]"; return 1; }
    while [ $# -gt 0 ]; do
        case $1 in
        --type) type=${2-}; shift ;;
        --mem) mem=${2-}; shift ;;
        --disk) disk=${2-}; shift ;;
        --disk-format) format=${2-}; shift ;;
        --disk2) disk2=${2-}; shift ;;
        --cache) [[ ${2-} =~ ^[a-z]+$ ]] || { _cluster_err "bad cache mode '${2-}'"; return 1; }
                 cache=$2; shift ;;
        --bridge) [[ ${2-} =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || { _cluster_err "bad bridge name '${2-}'"; return 1; }
                  nic="<interface type='bridge'><source bridge='$2'/><model type='virtio'/></interface>"; shift ;;
        --kernel) kernel=${2-}; shift ;;
        --initrd) initrd=${2-}; shift ;;
        --cmdline) cmdline=${2-}; shift ;;
        --console-file) console=${2-}; shift ;;
        *) _cluster_err "domain_xml: unknown option $1"; return 1 ;;
        esac
        shift
    done
    [[ $dom =~ ^[A-Za-z0-9_.-]+$ ]] || { _cluster_err "bad domain name '$dom'"; return 1; }
    [[ $mem =~ ^[0-9]+$ ]] || { _cluster_err "--mem takes a number of MiB"; return 1; }
    case $type in kvm|qemu) ;; *) _cluster_err "bad domain type '$type' (kvm or qemu)"; return 1 ;; esac
    case $format in qcow2|raw) ;; *) _cluster_err "bad disk format '$format' (qcow2 or raw)"; return 1 ;; esac
    [ -n "$disk" ] || disk=$DOMAIN_IMAGES/$dom.$format
    driver="<driver name='qemu' type='$format'${cache:+ cache='$cache'}/>"
    disks="<disk type='file' device='disk'>
      $driver
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>"
    [ -z "$disk2" ] || disks="$disks
    <disk type='file' device='disk'>
      $driver
      <source file='$disk2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>"
    if [ -n "$kernel" ]; then
        if [ -z "$initrd" ] || [ -z "$cmdline" ]; then
            _cluster_err "--kernel needs --initrd and --cmdline"; return 1
        fi
        os="<kernel>$kernel</kernel>
    <initrd>$initrd</initrd>
    <cmdline>$cmdline</cmdline>"
        on_reboot=destroy
    else
        os="<boot dev='hd'/>"
    fi
    if [ -n "$console" ]; then
        serial="<serial type='file'>
      <source path='$console' append='on'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='$console' append='on'/>
      <target type='serial' port='0'/>
    </console>"
    else
        serial="<serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>"
    fi
    cat <<EOF
<domain type='$type'>
  <name>$dom</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    $os
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>$on_reboot</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $disks${nic:+
    $nic}
    $serial
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

cluster_define_domain() {
    local usage="usage: cluster_define_domain NODE DOM [--running|--shut-off] [--type kvm|qemu] [--mem MiB] [--disk-mib N] [--disk-format qcow2|raw] [--disk-data-mib N] [--disk FILE] [--bridge BR] [--kernel FILE --initrd FILE --cmdline TEXT] [--console-file FILE] [--disk2 FILE] [--cache MODE]"
    local node=${1-} dom=${2-} running=0 mem=128 disk_mib=64 data_mib=0 format=qcow2 type='' disk='' xml
    local given_disk=0 xml_opts=()
    shift 2 || { _cluster_err "$usage"; return 1; }
    while [ $# -gt 0 ]; do
        case $1 in
        --running) running=1 ;;
        --shut-off) running=0 ;;
        --type) type=${2-}; shift ;;
        --mem) mem=${2-}; shift ;;
        --disk-mib) disk_mib=${2-}; shift ;;
        --disk-format) format=${2-}; shift ;;
        --disk-data-mib) data_mib=${2-}; shift ;;
        --disk) disk=${2-}; given_disk=1; shift ;;
        --bridge|--kernel|--initrd|--cmdline|--console-file|--disk2|--cache) xml_opts+=("$1" "${2-}"); shift ;;
        *) _cluster_err "cluster_define_domain: unknown option $1"; _cluster_err "$usage"; return 1 ;;
        esac
        shift
    done
    [[ $dom =~ ^[A-Za-z0-9_.-]+$ ]] || { _cluster_err "bad domain name '$dom'"; return 1; }
    [[ $mem =~ ^[0-9]+$ && $disk_mib =~ ^[0-9]+$ && $data_mib =~ ^[0-9]+$ ]] || {
        _cluster_err "--mem, --disk-mib and --disk-data-mib take numbers of MiB"; return 1; }
    [ "$given_disk" = 1 ] || [ "$data_mib" -le "$disk_mib" ] || {
        _cluster_err "--disk-data-mib exceeds --disk-mib"; return 1; }
    [ -n "$type" ] || type=$(_cluster_domain_type "$node")
    [ -n "$disk" ] || disk=$DOMAIN_IMAGES/$dom.$format
    xml=$(_cluster_node_dir "$node")/$dom.xml
    # the XML first: a bad option fails before anything is created on the node
    domain_xml "$dom" --type "$type" --mem "$mem" --disk "$disk" --disk-format "$format" \
        "${xml_opts[@]}" >"$xml" || return 1

    if [ "$given_disk" = 0 ]; then
        cluster_run "$node" qemu-img create -q -f "$format" "$disk" "${disk_mib}M" ||
            { _cluster_err "cannot create $disk on $node"; return 1; }
    fi
    if [ "$data_mib" -gt 0 ]; then
        # shellcheck disable=SC2016  # expanded by the node's sh
        cluster_run "$node" sh -c 'set -e; t=$(mktemp /var/tmp/domain-data.XXXXXX); trap "rm -f $t" EXIT
            dd if=/dev/urandom of="$t" bs=1M count="$2" status=none
            qemu-img convert -n -f raw -O "$3" -T none "$t" "$1"' sh "$disk" "$data_mib" "$format" ||
            { _cluster_err "cannot write data into $disk on $node"; return 1; }
    fi
    cluster_run "$node" virsh -q -c qemu:///system define "$xml" >/dev/null ||
        { _cluster_err "cannot define $dom on $node"; return 1; }
    if [ $running = 1 ]; then
        cluster_run "$node" virsh -q -c qemu:///system start "$dom" >/dev/null ||
            { _cluster_err "cannot start $dom on $node"; return 1; }
    fi
    _cluster_say "domain $dom on $node: type $type, $mem MiB, disk $disk" \
                 "$([ "$given_disk" = 1 ] || echo "($disk_mib MiB, $data_mib MiB data)")" \
                 "$([ $running = 1 ] && echo running || echo 'defined, shut off')"
    echo "$disk"
}

make_domain() {
    local node=${1-} dom=${2-} data_mib=${3-}
    shift 3 || { _cluster_err "usage: make_domain NODE DOM DATA_MIB [cluster_define_domain OPTION...]"; return 1; }
    cluster_define_domain "$node" "$dom" --running --disk-mib 128 --disk-data-mib "$data_mib" "$@" >/dev/null
}

cluster_precreate_disk() {
    local node=${1-} path=${2-} size=${3-} format=${4-}
    [ $# -eq 4 ] || { _cluster_err "usage: cluster_precreate_disk NODE PATH SIZE FORMAT"; return 1; }
    cluster_run "$node" mkdir -p "$(dirname "$path")" &&
    cluster_run "$node" qemu-img create -q -f "$format" "$path" "$size"
}

cluster_disk_vsize() {
    cluster_run "$1" qemu-img info -U --output=json "$2" |
        sed -n 's/^ *"virtual-size": *\([0-9]*\).*/\1/p'
}

# qemu-img cannot write raw into a pipe: a sparse temporary file it is.
content_sum() {
    # shellcheck disable=SC2016  # expanded by the node's bash
    cluster_run "$1" bash -c 'set -eo pipefail; t=$(mktemp /var/tmp/content.XXXXXX); trap "rm -f $t" EXIT
        qemu-img convert -U -f qcow2 -O raw "$1" "$t"; sha256sum <"$t" | cut -d" " -f1' bash "$2"
}
same_content() { local s; s=$(content_sum "$1" "$2") && [ -n "$s" ] && [ "$s" = "$3" ]; }
