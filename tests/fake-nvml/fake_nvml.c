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
 *   device.I.not_supported=power   (comma-separated: util, memory, temp, power, processes)
 *   device.I.lost_after=3          (answers GPU_IS_LOST after that many handle reads)
 *   process.PID=I:BYTES            (a compute process on device I holding BYTES)
 *
 * Every nvmlInit_v2 call appends a line to FAKE_NVML_CONFIG.inits, so a test can
 * count how often the library was initialised. Test code, not shipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
};

#define MAX_DEVICES 8
#define MAX_PROCESSES 64

struct device {
    char name[96];
    unsigned int util, temp, power_mw;
    unsigned long long mem_total, mem_used;
    int no_util, no_memory, no_temp, no_power, no_processes;
    long lost_after; /* -1: never */
    long handle_reads;
};

struct process {
    unsigned int pid, device;
    unsigned long long bytes;
};

static char loaded_text[65536];
static char init_mode[64] = "ok";
static unsigned int device_count;
static struct device devices[MAX_DEVICES];
static unsigned int process_count;
static struct process processes[MAX_PROCESSES];

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
typedef struct device *nvmlDevice_t;

static void set_not_supported(struct device *d, const char *list) {
    d->no_util = strstr(list, "util") != NULL;
    d->no_memory = strstr(list, "memory") != NULL;
    d->no_temp = strstr(list, "temp") != NULL;
    d->no_power = strstr(list, "power") != NULL;
    d->no_processes = strstr(list, "processes") != NULL;
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
    strcpy(init_mode, "ok");
    device_count = 0;
    process_count = 0;
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
            else if (strcmp(field, "not_supported") == 0) set_not_supported(d, value);
            else if (strcmp(field, "lost_after") == 0) d->lost_after = strtol(value, NULL, 10);
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
    u->memory = 0;
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
