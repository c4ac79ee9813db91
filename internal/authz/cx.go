package authz

// Customer-experience permissions. They live in their own file, with their
// grants, so the service area's whole access policy reads in one place.
const (
	CXRespond        Permission = "cx.respond"         // answer the organization's survey invitations (API)
	CXSurveyRead     Permission = "cx.survey.read"     // see surveys, responses with their comments, and export them
	CXSurveySend     Permission = "cx.survey.send"     // send a survey to an organization
	CXSettings       Permission = "cx.settings"        // change the survey's wording and questions
	CXReportRead     Permission = "cx.report.read"     // see CX scores (providers: about their own offerings)
	CXFeedbackSubmit Permission = "cx.feedback.submit" // submit feedback items for the organization
	CXFeedbackRead   Permission = "cx.feedback.read"   // read the organization's feedback items
	CXFeedbackManage Permission = "cx.feedback.manage" // move feedback items through their states
	CXChangeRead     Permission = "cx.change.read"     // read "you said, we did" entries
	CXChangeManage   Permission = "cx.change.manage"   // post "you said, we did" entries
)

// cxGrants gives each role its customer-experience permissions. Office
// admins hold every permission (see permissionList).
var cxGrants = map[Role][]Permission{
	OfficeAnalyst:   {CXSurveyRead, CXSurveySend, CXReportRead, CXFeedbackRead, CXFeedbackManage, CXChangeRead, CXChangeManage},
	StandardsLead:   {CXReportRead, CXFeedbackRead, CXChangeRead},
	AgencyAdmin:     {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead},
	AgencyBuyer:     {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead},
	AgencyApprover:  {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead},
	AgencyAnalyst:   {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead},
	AgencyViewer:    {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead},
	ProviderAdmin:   {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead, CXReportRead},
	ProviderAnalyst: {CXRespond, CXFeedbackSubmit, CXFeedbackRead, CXChangeRead, CXReportRead},
}

func init() {
	all := []Permission{CXRespond, CXSurveyRead, CXSurveySend, CXSettings, CXReportRead, CXFeedbackSubmit, CXFeedbackRead, CXFeedbackManage, CXChangeRead, CXChangeManage}
	permissionList = append(permissionList, all...)
	grant := func(r Role, perms []Permission) {
		d := roleDefs[r]
		d.perms = append(append([]Permission(nil), d.perms...), perms...)
		roleDefs[r] = d
	}
	grant(OfficeAdmin, all)
	for r, perms := range cxGrants {
		grant(r, perms)
	}
}
