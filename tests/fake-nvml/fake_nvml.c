/*
 * A stand-in for NVIDIA's libnvidia-ml.so.1, for PerfMon's tests on machines
 * without a GPU. It exports the NVML entry points nvml-wrapper calls, answering
 * from a plain-text file named by FAKE_NVML_CONFIG, which it re-reads whenever
 * the device count is asked for (once per sampler tick), so a test can change
 * the GPUs under a running server. Keys, one per line (`key=value`, `#` comments):
 *
 *   init=ok | rm_version_mismatch | driver_not_loaded | no_permission
 *   devices=N
 *   device.I.name=NVIDIA H100 80GB HBM3
 *   device.I.util=40               (percent)
 *   device.I.mem_total=85899345920 (bytes)
 *   device.I.mem_used=10737418240  (bytes)
 *   device.I.temp=55               (degrees C)
 *   device.I.power_mw=300000       (milliwatts)
 *   device.I.mem_util=35           (memory-controller utilisation, percent)
 *   device.I.sm_clock=1755         (MHz; also sm_clock_max, mem_clock, mem_clock_max)
 *   device.I.pstate=0              (0-15; 32 is NVML_PSTATE_UNKNOWN)
 *   device.I.clock_events=4        (the clock-event (throttle) reasons bitmask)
 *   device.I.pcie_rx_kbs=1024      (KB/s; also pcie_tx_kbs)
 *   device.I.pcie_delay_us=20000   (each PCIe throughput call sleeps that long)
 *   device.I.encoder=12            (percent; also decoder)
 *   device.I.fan=40                (percent, fan 0)
 *   device.I.energy_mj=1000000     (the energy counter when the config was loaded)
 *   device.I.energy_rate_mw=250000 (how fast the counter then grows: mJ/s)
 *   device.I.not_supported=power   (comma-separated: util, memory, temp, power,
 *                                   processes, process_util, sm_clock, sm_clock_max,
 *                                   mem_clock, mem_clock_max, pstate, clock_events,
 *                                   pcie, encoder, decoder, fan, energy)
 *   device.I.process_util_error=4  (nvmlDeviceGetProcessUtilization answers this
 *                                   NVML return code, e.g. 4 NO_PERMISSION)
 *   device.I.lost_after=3          (answers GPU_IS_LOST after that many handle reads)
 *   process.PID=I:BYTES            (a compute process on device I holding BYTES)
 *   process_util.PID=I:SM          (one utilisation sample of PID on device I, SM %;
 *                                   a line per sample. Each is stamped with the
 *                                   wall clock (µs, as NVML's CPU timestamps) when
 *                                   the config was loaded, plus its line's order,
 *                                   so a sample is handed out once to a caller that
 *                                   passes back the newest timestamp it saw, and a
 *                                   rewritten config brings newer samples)
 *
 * Every nvmlInit_v2 call appends a line to FAKE_NVML_CONFIG.inits, so a test can
 * count how often the library was initialised. Test code, not shipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
};

#define MAX_DEVICES 8
#define MAX_PROCESSES 64
#define MAX_UTIL_SAMPLES 256

struct device {
    char name[96];
    unsigned int util, temp, power_mw, mem_util;
    unsigned long long mem_total, mem_used;
    unsigned int sm_clock, sm_clock_max, mem_clock, mem_clock_max, pstate;
    unsigned long long clock_events;
    unsigned int pcie_rx_kbs, pcie_tx_kbs, pcie_delay_us, encoder, decoder, fan;
    unsigned long long energy_mj, energy_rate_mw;
    int no_util, no_memory, no_temp, no_power, no_processes, no_process_util;
    nvmlReturn_t process_util_error; /* 0: answer */
    int no_sm_clock, no_sm_clock_max, no_mem_clock, no_mem_clock_max, no_pstate;
    int no_clock_events, no_pcie, no_encoder, no_decoder, no_fan, no_energy;
    long lost_after; /* -1: never */
    long handle_reads;
};

struct process {
    unsigned int pid, device;
    unsigned long long bytes;
};

/* One per-process utilisation sample. */
struct util_sample {
    unsigned int pid, device, sm;
    unsigned long long at_us;
};

static char loaded_text[65536];
static char init_mode[64] = "ok";
static unsigned int device_count;
static struct device devices[MAX_DEVICES];
static unsigned int process_count;
static struct process processes[MAX_PROCESSES];
static unsigned int util_sample_count;
static struct util_sample util_samples[MAX_UTIL_SAMPLES];
/* When the config was last loaded: the energy counters grow from then. */
static struct timespec loaded_at;

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;
typedef struct {
    unsigned int pid;
    unsigned long long timeStamp; /* CPU timestamp, µs */
    unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;
typedef struct device *nvmlDevice_t;

/* Whether `name` is one of the comma-separated entries of `list` (whole entries:
 * `sm_clock` does not match `sm_clock_max`). */
static int listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

static void set_not_supported(struct device *d, const char *list) {
    d->no_util = listed(list, "util");
    d->no_memory = listed(list, "memory");
    d->no_temp = listed(list, "temp");
    d->no_power = listed(list, "power");
    d->no_processes = listed(list, "processes");
    d->no_process_util = listed(list, "process_util");
    d->no_sm_clock = listed(list, "sm_clock");
    d->no_sm_clock_max = listed(list, "sm_clock_max");
    d->no_mem_clock = listed(list, "mem_clock");
    d->no_mem_clock_max = listed(list, "mem_clock_max");
    d->no_pstate = listed(list, "pstate");
    d->no_clock_events = listed(list, "clock_events");
    d->no_pcie = listed(list, "pcie");
    d->no_encoder = listed(list, "encoder");
    d->no_decoder = listed(list, "decoder");
    d->no_fan = listed(list, "fan");
    d->no_energy = listed(list, "energy");
}

/* Re-reads the config file; the devices' read counters start again whenever its
 * text changes, so a rewritten file brings a lost device back. */
static void load(void) {
    const char *path = getenv("FAKE_NVML_CONFIG");
    char text[sizeof loaded_text] = "";
    if (path) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
    }
    if (strcmp(text, loaded_text) == 0) return;
    strcpy(loaded_text, text);
    clock_gettime(CLOCK_MONOTONIC, &loaded_at);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    unsigned long long loaded_us = (unsigned long long)wall.tv_sec * 1000000ULL + (unsigned long long)wall.tv_nsec / 1000;
    strcpy(init_mode, "ok");
    device_count = 0;
    process_count = 0;
    util_sample_count = 0;
    memset(devices, 0, sizeof devices);
    for (int i = 0; i < MAX_DEVICES; i++) devices[i].lost_after = -1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq) continue;
        *eq = '\0';
        const char *key = line, *value = eq + 1;
        unsigned int i, pid;
        char field[32];
        if (strcmp(key, "init") == 0) {
            snprintf(init_mode, sizeof init_mode, "%s", value);
        } else if (strcmp(key, "devices") == 0) {
            device_count = (unsigned int)atoi(value);
            if (device_count > MAX_DEVICES) device_count = MAX_DEVICES;
        } else if (sscanf(key, "device.%u.%31s", &i, field) == 2 && i < MAX_DEVICES) {
            struct device *d = &devices[i];
            if (strcmp(field, "name") == 0) snprintf(d->name, sizeof d->name, "%s", value);
            else if (strcmp(field, "util") == 0) d->util = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "temp") == 0) d->temp = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "power_mw") == 0) d->power_mw = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "mem_total") == 0) d->mem_total = strtoull(value, NULL, 10);
            else if (strcmp(field, "mem_used") == 0) d->mem_used = strtoull(value, NULL, 10);
            else if (strcmp(field, "mem_util") == 0) d->mem_util = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "sm_clock") == 0) d->sm_clock = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "sm_clock_max") == 0) d->sm_clock_max = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "mem_clock") == 0) d->mem_clock = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "mem_clock_max") == 0) d->mem_clock_max = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "pstate") == 0) d->pstate = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "clock_events") == 0) d->clock_events = strtoull(value, NULL, 10);
            else if (strcmp(field, "pcie_rx_kbs") == 0) d->pcie_rx_kbs = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "pcie_tx_kbs") == 0) d->pcie_tx_kbs = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "pcie_delay_us") == 0) d->pcie_delay_us = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "encoder") == 0) d->encoder = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "decoder") == 0) d->decoder = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "fan") == 0) d->fan = (unsigned int)strtoul(value, NULL, 10);
            else if (strcmp(field, "energy_mj") == 0) d->energy_mj = strtoull(value, NULL, 10);
            else if (strcmp(field, "energy_rate_mw") == 0) d->energy_rate_mw = strtoull(value, NULL, 10);
            else if (strcmp(field, "not_supported") == 0) set_not_supported(d, value);
            else if (strcmp(field, "lost_after") == 0) d->lost_after = strtol(value, NULL, 10);
            else if (strcmp(field, "process_util_error") == 0) d->process_util_error = atoi(value);
        } else if (sscanf(key, "process_util.%u", &pid) == 1 && util_sample_count < MAX_UTIL_SAMPLES) {
            struct util_sample *s = &util_samples[util_sample_count];
            s->pid = pid;
            s->at_us = loaded_us + util_sample_count;
            if (sscanf(value, "%u:%u", &s->device, &s->sm) == 2) util_sample_count++;
        } else if (sscanf(key, "process.%u", &pid) == 1 && process_count < MAX_PROCESSES) {
            struct process *p = &processes[process_count++];
            p->pid = pid;
            if (sscanf(value, "%u:%llu", &p->device, &p->bytes) != 2) process_count--;
        }
    }
}

static int lost(const struct device *d) {
    return d->lost_after >= 0 && d->handle_reads > d->lost_after;
}

/* The answer for a device query: lost, unsupported, or go ahead. */
static nvmlReturn_t check(nvmlDevice_t d, int unsupported) {
    if (!d) return NVML_ERROR_INVALID_ARGUMENT;
    if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
    return unsupported ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) {
    load();
    const char *path = getenv("FAKE_NVML_CONFIG");
    if (path) {
        char log[4096];
        snprintf(log, sizeof log, "%s.inits", path);
        FILE *f = fopen(log, "a");
        if (f) {
            fputs("init\n", f);
            fclose(f);
        }
    }
    if (strcmp(init_mode, "rm_version_mismatch") == 0) return NVML_ERROR_LIB_RM_VERSION_MISMATCH;
    if (strcmp(init_mode, "driver_not_loaded") == 0) return NVML_ERROR_DRIVER_NOT_LOADED;
    if (strcmp(init_mode, "no_permission") == 0) return NVML_ERROR_NO_PERMISSION;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) { return NVML_SUCCESS; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!version || length < 10) return NVML_ERROR_INSUFFICIENT_SIZE;
    snprintf(version, length, "550.54.15");
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    load();
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = device_count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (!device || index >= device_count) return NVML_ERROR_INVALID_ARGUMENT;
    struct device *d = &devices[index];
    d->handle_reads++;
    if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
    *device = d;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
    nvmlReturn_t r = check(d, 0);
    if (r != NVML_SUCCESS) return r;
    if (!name || length <= strlen(d->name)) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(name, d->name);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    nvmlReturn_t r = check(d, d && d->no_util);
    if (r != NVML_SUCCESS) return r;
    u->gpu = d->util;
    u->memory = d->mem_util;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    nvmlReturn_t r = check(d, d && d->no_memory);
    if (r != NVML_SUCCESS) return r;
    m->total = d->mem_total;
    m->used = d->mem_used;
    m->reserved = 0;
    m->free = d->mem_total - d->mem_used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *temp) {
    (void)sensor;
    nvmlReturn_t r = check(d, d && d->no_temp);
    if (r != NVML_SUCCESS) return r;
    *temp = d->temp;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *power) {
    nvmlReturn_t r = check(d, d && d->no_power);
    if (r != NVML_SUCCESS) return r;
    *power = d->power_mw;
    return NVML_SUCCESS;
}

/* The compute processes of device `d`, as NVML lists them: with no buffer (or
 * too small a one) the count and INSUFFICIENT_SIZE, else the list. */
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos) {
    nvmlReturn_t r = check(d, d && d->no_processes);
    if (r != NVML_SUCCESS) return r;
    unsigned int index = (unsigned int)(d - devices), n = 0;
    for (unsigned int i = 0; i < process_count; i++) n += processes[i].device == index;
    if (!infos || *count < n) {
        *count = n;
        return n == 0 ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned int k = 0;
    for (unsigned int i = 0; i < process_count; i++) {
        if (processes[i].device != index) continue;
        infos[k].pid = processes[i].pid;
        infos[k].usedGpuMemory = processes[i].bytes;
        infos[k].gpuInstanceId = 0xFFFFFFFF;
        infos[k].computeInstanceId = 0xFFFFFFFF;
        k++;
    }
    *count = k;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                      nvmlProcessInfo_t *infos) {
    (void)infos;
    nvmlReturn_t r = check(d, d && d->no_processes);
    if (r != NVML_SUCCESS) return r;
    *count = 0;
    return NVML_SUCCESS;
}

/* The utilisation samples of device `d` newer than `last_seen` (µs), as NVML
 * hands them out: NOT_FOUND when there are none; with no buffer (or too small
 * a one) the count and INSUFFICIENT_SIZE; else the samples. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *processSamplesCount,
                                             unsigned long long lastSeenTimeStamp) {
    nvmlReturn_t r = check(d, d && d->no_process_util);
    if (r != NVML_SUCCESS) return r;
    if (d->process_util_error) return d->process_util_error;
    if (!processSamplesCount) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned int index = (unsigned int)(d - devices), n = 0;
    for (unsigned int i = 0; i < util_sample_count; i++)
        n += util_samples[i].device == index && util_samples[i].at_us > lastSeenTimeStamp;
    if (n == 0) {
        *processSamplesCount = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    if (!utilization || *processSamplesCount < n) {
        *processSamplesCount = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    unsigned int k = 0;
    for (unsigned int i = 0; i < util_sample_count; i++) {
        const struct util_sample *s = &util_samples[i];
        if (s->device != index || s->at_us <= lastSeenTimeStamp) continue;
        utilization[k] = (nvmlProcessUtilizationSample_t){s->pid, s->at_us, s->sm, 0, 0, 0};
        k++;
    }
    *processSamplesCount = k;
    return NVML_SUCCESS;
}

/* Clock types, as nvmlClockType_t numbers them. */
enum { NVML_CLOCK_GRAPHICS = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2 };

/* Current (max = 0) or maximum (max = 1) clock of a domain, MHz; the graphics
 * clock reads as the SM clock. */
static nvmlReturn_t clock_mhz(nvmlDevice_t d, int type, int max, unsigned int *mhz) {
    int sm = type == NVML_CLOCK_SM || type == NVML_CLOCK_GRAPHICS;
    if (!sm && type != NVML_CLOCK_MEM) return check(d, 1);
    int unsupported = d && (sm ? (max ? d->no_sm_clock_max : d->no_sm_clock)
                               : (max ? d->no_mem_clock_max : d->no_mem_clock));
    nvmlReturn_t r = check(d, unsupported);
    if (r != NVML_SUCCESS) return r;
    if (!mhz) return NVML_ERROR_INVALID_ARGUMENT;
    *mhz = sm ? (max ? d->sm_clock_max : d->sm_clock) : (max ? d->mem_clock_max : d->mem_clock);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
    return clock_mhz(d, type, 0, mhz);
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned int *mhz) {
    return clock_mhz(d, type, 1, mhz);
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t d, int *pstate) {
    nvmlReturn_t r = check(d, d && d->no_pstate);
    if (r != NVML_SUCCESS) return r;
    *pstate = (int)d->pstate;
    return NVML_SUCCESS;
}

/* The same bitmask under both names: nvml-wrapper calls the older one. */
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons) {
    nvmlReturn_t r = check(d, d && d->no_clock_events);
    if (r != NVML_SUCCESS) return r;
    *reasons = d->clock_events;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t d, unsigned long long *reasons) {
    return nvmlDeviceGetCurrentClocksEventReasons(d, reasons);
}

/* Counters, as nvmlPcieUtilCounter_t numbers them. */
enum { NVML_PCIE_UTIL_TX_BYTES = 0, NVML_PCIE_UTIL_RX_BYTES = 1 };

/* KB/s over the last window; sleeps pcie_delay_us first, as a driver that
 * measures its 20 ms window during the call would. */
nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned int *kbs) {
    nvmlReturn_t r = check(d, d && d->no_pcie);
    if (r != NVML_SUCCESS) return r;
    if (counter != NVML_PCIE_UTIL_TX_BYTES && counter != NVML_PCIE_UTIL_RX_BYTES) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->pcie_delay_us) {
        struct timespec delay = {d->pcie_delay_us / 1000000, (long)(d->pcie_delay_us % 1000000) * 1000};
        nanosleep(&delay, NULL);
    }
    *kbs = counter == NVML_PCIE_UTIL_TX_BYTES ? d->pcie_tx_kbs : d->pcie_rx_kbs;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t d, unsigned int *percent, unsigned int *period_us) {
    nvmlReturn_t r = check(d, d && d->no_encoder);
    if (r != NVML_SUCCESS) return r;
    *percent = d->encoder;
    *period_us = 167000;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t d, unsigned int *percent, unsigned int *period_us) {
    nvmlReturn_t r = check(d, d && d->no_decoder);
    if (r != NVML_SUCCESS) return r;
    *percent = d->decoder;
    *period_us = 167000;
    return NVML_SUCCESS;
}

/* The intended speed of fan `fan`, percent; the fake has one fan. */
nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t d, unsigned int fan, unsigned int *percent) {
    nvmlReturn_t r = check(d, d && d->no_fan);
    if (r != NVML_SUCCESS) return r;
    if (fan != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *percent = d->fan;
    return NVML_SUCCESS;
}

/* Energy since the config was loaded (as since the driver was), mJ: the
 * configured start plus energy_rate_mw for every second since. */
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
    nvmlReturn_t r = check(d, d && d->no_energy);
    if (r != NVML_SUCCESS) return r;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double seconds = (double)(now.tv_sec - loaded_at.tv_sec) + (double)(now.tv_nsec - loaded_at.tv_nsec) / 1e9;
    *mj = d->energy_mj + (unsigned long long)((double)d->energy_rate_mw * seconds);
    return NVML_SUCCESS;
}
