/* metrics.h - node_exporter textfile metrics (--metrics-file) and the pure parts of
 * monitoring output: label escaping, merging a metrics file, Nagios performance data. */
#ifndef ARCA_METRICS_H
#define ARCA_METRICS_H

#include <stdbool.h>
#include <stddef.h>

/* One sample to write: name, the label block without braces (see metrics_labels), value;
 * add: a counter, to be added to the value already in the file for the same series. */
typedef struct metric_sample {
    const char *name;
    const char *labels;
    double value;
    bool add;
} metric_sample;

/* Escape a label value as the exposition format wants (\\, \", \n): malloc'd. */
char *metrics_escape(const char *s);
/* The label block 'repository="R",command="C",host="H",paths="P"' (values escaped):
 * malloc'd. */
char *metrics_labels(const char *repository, const char *command, const char *host,
                     const char *paths);
/* Merge: the samples of old (a metrics file's text, may be NULL) whose series (name and
 * labels) is not among v stay; v's replace or (add) increase theirs.  HELP and TYPE once per
 * family, families sorted by name.  *ret is malloc'd.  0 or -ENOMEM. */
int metrics_merge(const char *old, const metric_sample *v, size_t n, char **ret);
/* Read path, merge, write a temporary file in the same directory and rename it over path,
 * under an flock on path + ".lock".  0 or -errno. */
int metrics_update(const char *path, const metric_sample *v, size_t n);

/* A number as the exposition format and perfdata write it: integers without a fraction. */
void metrics_number(double v, char *out, size_t len);
/* Nagios performance data: 'label'=value[uom];[warn];[crit];[min];[max] (a quote in the
 * label doubled, as the plugin guidelines say).  Empty fields for NaN thresholds.
 * Appended to out (malloc'd, grows). */
int perfdata_append(char **out, const char *label, double value, const char *uom, double warn,
                    double crit, double min, double max);

/* Monitoring Plugins states and their exit codes. */
enum { STATE_OK = 0, STATE_WARNING = 1, STATE_CRITICAL = 2, STATE_UNKNOWN = 3 };
const char *state_name(int state);   /* "OK", "WARNING", ... */
/* The state of an age (seconds) against thresholds (seconds, < 0: none): above crit
 * CRITICAL, else above warn WARNING, else OK. */
int state_of_age(double age, double warn, double crit);
/* An age for people: "40s", "12m 5s", "5h 12m", "3d 4h". */
void age_format(double secs, char *out, size_t len);

#endif
